// Shell completion scripts for bash, zsh and fish: command words from the command tree, flags
// per command, and output formats for -w.
import { type Command, findSub, inheritedFlags, link, localFlags } from "./command.ts";
import { commandTree } from "./commands/index.ts";
import { GLOBAL_FLAGS } from "./globals.ts";

interface Entry {
  path: string;
  subs: string[];
  flags: string[];
}

function entries(): Entry[] {
  const root = link(commandTree());
  const out: Entry[] = [];
  const walk = (c: Command, p: string[]) => {
    const flags = (c.parent ? [...inheritedFlags(c, GLOBAL_FLAGS), ...localFlags(c)] : GLOBAL_FLAGS).map((f) => `--${f.name}`);
    out.push({ path: p.join(" "), subs: (c.sub ?? []).map((s) => s.name), flags: [...new Set(flags)].sort() });
    for (const s of c.sub ?? []) walk(s, [...p, s.name]);
  };
  walk(root, []);
  return out;
}

export function completionScript(shell: "bash" | "zsh" | "fish"): string {
  const es = entries();
  if (shell === "fish") {
    let s = "# fish completion for conclave ctl\n";
    s += "function __conclave_ctl_path\n  set -l words (commandline -opc)\n  set -l out\n  for w in $words[3..-1]\n    if not string match -q -- '-*' $w\n      set out $out $w\n    end\n  end\n  echo (string join ' ' $out)\nend\n";
    for (const e of es) {
      const cond = `test "(__conclave_ctl_path)" = "${e.path}"`;
      if (e.subs.length > 0) s += `complete -c conclave -n '__fish_seen_subcommand_from ctl; and ${cond}' -f -a '${e.subs.join(" ")}'\n`;
      for (const f of e.flags) s += `complete -c conclave -n '__fish_seen_subcommand_from ctl; and ${cond}' -l ${f.slice(2)}\n`;
    }
    s += "complete -c conclave -n '__fish_seen_subcommand_from ctl' -s w -l write-out -x -a 'simple json fields table protobuf'\n";
    return s;
  }
  const table = es.map((e) => `  ${JSON.stringify(e.path)}) words=${JSON.stringify([...e.subs, ...e.flags].join(" "))} ;;`).join("\n");
  const body = `_conclave_ctl_words() {
  local path=""
  local i
  for ((i=2; i<COMP_CWORD_LOCAL; i++)); do
    case "\${WORDS_LOCAL[i]}" in -*) ;; *) path="\${path:+$path }\${WORDS_LOCAL[i]}" ;; esac
  done
  case "$path" in
${table}
  *) words="" ;;
  esac
}
`;
  if (shell === "bash") {
    return `# bash completion for conclave ctl
${body}
_conclave_ctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" words
  if [[ \${COMP_WORDS[1]} != ctl ]]; then COMPREPLY=($(compgen -W "ctl pki discovery serve" -- "$cur")); return; fi
  if [[ $prev == -w || $prev == --write-out ]]; then COMPREPLY=($(compgen -W "simple json fields table protobuf" -- "$cur")); return; fi
  local WORDS_LOCAL=("\${COMP_WORDS[@]}") COMP_CWORD_LOCAL=$COMP_CWORD
  _conclave_ctl_words
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _conclave_ctl conclave
`;
  }
  return `#compdef conclave
# zsh completion for conclave ctl
${body}
_conclave() {
  local -a WORDS_LOCAL
  WORDS_LOCAL=("\${words[@]}")
  local COMP_CWORD_LOCAL=$((CURRENT-1))
  WORDS_LOCAL=("\${(@)WORDS_LOCAL[1,-1]}")
  if [[ \${words[2]} != ctl ]]; then compadd ctl pki discovery serve; return; fi
  if [[ \${words[CURRENT-1]} == -w || \${words[CURRENT-1]} == --write-out ]]; then compadd simple json fields table protobuf; return; fi
  local words_out
  local -a WORDS_LOCAL0
  WORDS_LOCAL0=("" "\${words[@]}")
  WORDS_LOCAL=("\${WORDS_LOCAL0[@]}")
  COMP_CWORD_LOCAL=$CURRENT
  local words_save=("\${words[@]}")
  local words
  _conclave_ctl_words
  compadd -- \${=words}
}
compdef _conclave conclave
`;
}

export { findSub };
