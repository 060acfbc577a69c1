// Support for the generated protobuf code (src/gen).
export { embeddedFile, type MakeMessage } from "./embedded-file.ts";
