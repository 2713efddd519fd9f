#!/usr/bin/env bash
# Execute notebooks on Deno's Jupyter kernel with nbconvert; fail on any cell error.
#
#   tools/run_notebooks.sh                 # every notebooks/[0-9]*.ipynb
#   tools/run_notebooks.sh path/a.ipynb …  # just these
#   tools/run_notebooks.sh --check         # only check that every tool it needs is there
#                                          # (exit 0), else name the missing ones (exit 2)
#   tools/run_notebooks.sh --commit-outputs [path/a.ipynb …]
#                                          # run them (preset default unless PVL_PRESET says
#                                          # otherwise) and write each one that succeeds back in
#                                          # place with its outputs (tools/notebook_outputs.ts:
#                                          # only outputs and execution counts change; the repo
#                                          # root becomes ".", $HOME "~"). Run it after
#                                          # `deno task reproduce`, so the notebooks read the
#                                          # finished units back instead of training again.
#
# Env:
#   PVL_PRESET      preset passed to the notebooks (default: smoke; default with
#                   --commit-outputs)
#   PVL_NB_IMAGE    static image in each figure's bundle: svg (default), png or none
#                   (lib/report/jupyter.ts; needs Chromium, else none)
#   PVL_NB_TIMEOUT  seconds per notebook, whole run (default: 900); per cell likewise
#   PVL_NB_OUT      directory for the executed copies (default: a fresh temp dir; the
#                   notebooks in the repo are never overwritten, except by --commit-outputs)
#   DENO            deno binary (default: deno on PATH, else `npx -y deno@2.9.6`)
#
# Needs (Debian): apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client
# Installs the kernelspec each run: `deno jupyter --install --force` (idempotent, fast).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit_outputs=0
if [[ "${1:-}" == "--commit-outputs" ]]; then
  commit_outputs=1
  shift
  export PVL_PRESET="${PVL_PRESET:-default}"
else
  export PVL_PRESET="${PVL_PRESET:-smoke}"
fi
timeout_s="${PVL_NB_TIMEOUT:-900}"
out="${PVL_NB_OUT:-$(mktemp -d -t pvl_nb.XXXXXX)}"
mkdir -p "$out"

if [[ -n "${DENO:-}" ]]; then
  deno_cmd=("$DENO")
elif command -v deno >/dev/null 2>&1; then
  deno_cmd=(deno)
else
  deno_cmd=(npx -y deno@2.9.6)
fi

install_line="apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client"
# Every piece this script uses, checked together so a half-installed Jupyter (e.g. nbconvert
# without jupyter-client) is reported here, in one line, not as a failure further down.
missing=()
if ! command -v jupyter >/dev/null 2>&1; then
  missing+=("jupyter")
else
  jupyter nbconvert --version >/dev/null 2>&1 || missing+=("jupyter nbconvert")
  jupyter kernelspec --version >/dev/null 2>&1 || missing+=("jupyter kernelspec (jupyter-client)")
  # nbconvert --execute runs notebooks through nbclient, in the Python that runs jupyter.
  py="$(head -n 1 "$(command -v jupyter)" | sed -n 's/^#! *//p' | awk '{print $NF=="python3" && $1 ~ /env$/ ? "python3" : $1}')"
  [[ -x "$py" || "$py" == "python3" ]] || py=python3
  "$py" -c "import nbclient" >/dev/null 2>&1 || missing+=("nbclient (python3-nbclient)")
fi
command -v timeout >/dev/null 2>&1 || missing+=("timeout (coreutils)")
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "run_notebooks: missing $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g'); $install_line" >&2
  exit 2
fi
if [[ "${1:-}" == "--check" ]]; then
  exit 0
fi

if ! install_log="$("${deno_cmd[@]}" jupyter --install --force 2>&1)"; then
  echo "run_notebooks: \`deno jupyter --install --force\` failed:" >&2
  echo "$install_log" >&2
  exit 2
fi
# Read the list first: with pipefail, `jupyter ... | grep -q` fails whenever grep exits
# at its first match before jupyter has finished writing (SIGPIPE).
specs="$(jupyter kernelspec list 2>/dev/null || true)"
if ! grep -qE '^\s*deno\s' <<<"$specs"; then
  echo "run_notebooks: the deno kernelspec did not install (jupyter kernelspec list)" >&2
  exit 2
fi

if [[ $# -gt 0 ]]; then
  notebooks=("$@")
else
  shopt -s nullglob
  notebooks=("$root"/notebooks/[0-9]*.ipynb)
  shopt -u nullglob
fi
if [[ ${#notebooks[@]} -eq 0 ]]; then
  echo "run_notebooks: no notebooks/[0-9]*.ipynb to run"
  exit 0
fi

failed=()
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb" .ipynb)"
  start=$SECONDS
  # nbconvert runs the kernel in the notebook's directory and stops at the first cell
  # error (allow_errors is off), exiting non-zero; `timeout` bounds the whole notebook.
  if timeout --kill-after=30 "$timeout_s" jupyter nbconvert --to notebook --execute "$nb" \
      --ExecutePreprocessor.kernel_name=deno \
      --ExecutePreprocessor.timeout="$timeout_s" \
      --output-dir "$out" --output "$name" >"$out/$name.log" 2>&1; then
    echo "ok    $name ($((SECONDS - start)) s)"
    if [[ $commit_outputs -eq 1 ]]; then
      # The notebook's own repo root (a copy elsewhere has its own) and this script's.
      nb_root="$(cd "$(dirname "$nb")/.." && pwd)"
      if "${deno_cmd[@]}" run --allow-read --allow-write --allow-env "$root/tools/notebook_outputs.ts" \
          --executed "$out/$name.ipynb" --into "$nb" --root "$nb_root" --root "$root" \
          --root "$(cd "$nb_root" && pwd -P)" --root "$(cd "$root" && pwd -P)"; then
        echo "      wrote its outputs into $nb"
      else
        failed+=("$name")
      fi
    fi
  else
    rc=$?
    echo "FAIL  $name (exit $rc after $((SECONDS - start)) s; log $out/$name.log)"
    tail -n 40 "$out/$name.log" | sed 's/^/      /'
    failed+=("$name")
  fi
done

echo "executed notebooks in $out (PVL_PRESET=$PVL_PRESET)"
if [[ $commit_outputs -eq 1 ]]; then
  echo "outputs written into the notebooks that ran (git diff notebooks/); tests/report/committed_outputs_test.ts checks them"
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_notebooks: ${#failed[@]} notebook(s) failed: ${failed[*]}" >&2
  exit 1
fi
