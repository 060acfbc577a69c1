// Pages for people: the token page a browser gets (Accept: text/html) and the home page.
// Every value shown comes from registrants, so everything goes through hono's escaping `html`.
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { TokenState } from "./store.ts";

const style = html`<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; padding: 0 1rem; color: #1d1d1f; }
  code, td.mono { font-family: ui-monospace, monospace; font-size: 13px; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  .missing { color: #a05a00; } .extra { color: #888; } .done { color: #1a7f37; }
</style>`;

function page(title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${title}</title>${style}</head>
<body>${body}</body></html>`;
}

/** The state of one token: expected size, who registered with which peer URLs, who is missing. */
export function tokenPage(t: TokenState, url: string) {
  const members = t.nodes.slice(0, t.size);
  const extra = t.nodes.slice(t.size);
  const missing = Math.max(0, t.size - members.length);
  const status =
    missing === 0
      ? html`<p class="done">All ${t.size} members have registered; the cluster can start.</p>`
      : html`<p class="missing">${members.length} of ${t.size} members registered; waiting for ${missing} more.</p>`;
  const row = (n: TokenState["nodes"][number], i: number, cls: string) => html`<tr class="${cls}">
    <td>${i + 1}</td><td class="mono">${n.name}</td><td class="mono">${n.value}</td><td>${n.createdIndex}</td></tr>`;
  return page(
    "Discovery token",
    html`<h1>Discovery token</h1>
<p><code>${url}</code></p>
<p>Expected cluster size: <strong>${t.size}</strong>. Created ${new Date(t.createdAt).toISOString()}.</p>
${status}
<table><thead><tr><th>#</th><th>member ID</th><th>name=peer URLs</th><th>registered at index</th></tr></thead><tbody>
${members.map((n, i) => row(n, i, ""))}
${Array.from({ length: missing }, (_, i) => html`<tr class="missing"><td>${members.length + i + 1}</td><td colspan="3">not registered yet</td></tr>`)}
</tbody></table>
${
  extra.length > 0
    ? html`<p class="extra">Registered after the cluster was full (members ignore these):</p>
<table><tbody>${extra.map((n, i) => row(n, t.size + i, "extra"))}</tbody></table>`
    : ""
}
<p>Start each member with <code>--discovery ${url}</code>.</p>`,
  );
}

export function homePage(host: string) {
  return page(
    "Conclave discovery",
    html`<h1>Conclave discovery</h1>
<p>A token service for bootstrapping clusters with <code>--discovery</code>.</p>
<p>Create a token for a cluster of three: <code>curl '${host}/new?size=3'</code>, then start each member with
<code>--discovery &lt;the URL it printed&gt;</code>. Open the token URL in a browser to see who has registered.</p>`,
  );
}
