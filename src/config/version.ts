// The version this executable reports: its own and the etcd API it speaks. A module of its own,
// so `conclave --version` prints it without loading the flag parser (main.ts).

export const VERSION = "0.1.0";
export const API_VERSION = "3.4";

/** etcd's `--version` shape with our name. */
export function versionText(): string {
  return `conclave Version: ${VERSION}\nAPI Version: ${API_VERSION}\n`;
}
