// Export of a prefix to a JSON file; import of such a file with a dry run first.
import { useState } from "preact/hooks";
import { lossy } from "../lib/bytes.ts";
import { applyImport, exportPrefix, parseExport, planImport, type PlannedChange } from "../lib/transfer.ts";
import { ErrorBox, Notice, saveFile, useAction } from "./common.tsx";

export function ExportImport({ prefix, onImported, canRead, canWrite }: { prefix: Uint8Array; onImported: () => void; canRead: boolean; canWrite: boolean }) {
  const [progress, setProgress] = useState<string | undefined>();
  const [plan, setPlan] = useState<PlannedChange[] | undefined>();
  const [fileName, setFileName] = useState("");
  const act = useAction();
  const pfx = lossy(prefix);

  const doExport = () =>
    act.run(async () => {
      const file = await exportPrefix(prefix, (n) => setProgress(`exported ${n} keys…`));
      const name = `keys${pfx === "" ? "" : "-" + pfx.replace(/[^A-Za-z0-9._-]+/g, "_")}-rev${file.revision}.json`;
      saveFile(name, new Blob([JSON.stringify(file, null, 1)], { type: "application/json" }));
      setProgress(`Exported ${file.kvs.length} keys at revision ${file.revision} to ${name}.`);
    });

  const chooseFile = (f: File | undefined) =>
    act.run(async () => {
      setPlan(undefined);
      setProgress(undefined);
      if (f === undefined) return;
      setFileName(f.name);
      const file = parseExport(await f.text());
      setPlan(await planImport(file));
    });

  const doImport = () =>
    act.run(async () => {
      if (plan === undefined) return;
      const n = await applyImport(plan, (k) => setProgress(`imported ${k} keys…`));
      setProgress(`Imported ${n} keys from ${fileName}.`);
      setPlan(undefined);
      onImported();
    });

  const counts = plan && { create: plan.filter((p) => p.kind === "create").length, update: plan.filter((p) => p.kind === "update").length, same: plan.filter((p) => p.kind === "same").length };
  return (
    <div class="io">
      <div class="row">
        {canRead && (
          <button disabled={act.busy} onClick={() => void doExport()} data-testid="export">
            Export {pfx === "" ? "all keys" : pfx} to JSON
          </button>
        )}
        <label class="file" hidden={!canWrite}>
          <span>Import a JSON file (dry run first):</span>
          <input type="file" accept="application/json,.json" onChange={(e) => void chooseFile(e.currentTarget.files?.[0])} data-testid="import-file" />
        </label>
      </div>
      {progress !== undefined && <Notice testid="io-progress">{progress}</Notice>}
      {plan !== undefined && counts !== undefined && (
        <div class="dry-run" data-testid="dry-run">
          <p>
            Dry run of {fileName}: {counts.create} to create, {counts.update} to update, {counts.same} unchanged.
          </p>
          <ul class="plan">
            {plan
              .filter((p) => p.kind !== "same")
              .slice(0, 50)
              .map((p) => (
                <li key={lossy(p.key)} class={p.kind} data-testid="plan-item">
                  {p.kind} <span class="mono">{lossy(p.key)}</span>
                </li>
              ))}
          </ul>
          <button class="primary" disabled={act.busy || counts.create + counts.update === 0} onClick={() => void doImport()} data-testid="import-apply">
            Import {counts.create + counts.update} keys
          </button>{" "}
          <button onClick={() => setPlan(undefined)}>Cancel</button>
        </div>
      )}
      <ErrorBox error={act.error} />
    </div>
  );
}
