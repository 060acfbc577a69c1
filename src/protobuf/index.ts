// Support for the generated protobuf code (src/gen).
export { embeddedFile } from "./embedded-file.ts";
