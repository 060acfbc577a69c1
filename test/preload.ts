// Loaded by `bun test` before any test file (bunfig.toml). @peculiar/x509's dependency injection
// (tsyringe) throws at load unless the Reflect metadata API is already installed; the source
// imports the polyfill first (src/tls/reflect-polyfill.ts), but when one process runs the whole
// suite Bun has evaluated @peculiar/x509's CommonJS code before that polyfill at least once
// ("tsyringe requires a reflect polyfill", a known ordering issue of Bun's loader). Installed
// here, it is there whatever order the test files' imports are evaluated in. The executable is
// not affected: the bundler evaluates modules in import order.
import "reflect-metadata";
