// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata API before it
// loads. This module exists so the bundler evaluates the polyfill first: a bare import of the
// CommonJS polyfill next to @peculiar/x509 in one module is evaluated after the ES modules it
// imports, and the executable then fails with "tsyringe requires a reflect polyfill".
import "reflect-metadata";
