"""What the notebooks store in git. The rule (README, "Working on the kit"): notebooks are committed without outputs
(`nbdev-clean`), because a stored output is a result of the code as it was when someone last ran it and would go stale
silently; the docs build (`make docs`) executes every notebook and publishes the fresh outputs. If an output is ever
committed on purpose, it must stay small and must not be a traceback."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 200_000  # bytes of stored outputs per notebook

def _outputs(nb:Path):
    for c in json.loads(nb.read_text())['cells']:
        for o in c.get('outputs', []): yield c.get('id'), o

def test_notebooks_store_no_tracebacks_and_stay_within_budget():
    over, errors = [], []
    for nb in sorted((ROOT/'nbs').rglob('*.ipynb')):
        if any(p.startswith(('_', '.')) for p in nb.relative_to(ROOT/'nbs').parts): continue
        outs = list(_outputs(nb))
        size = sum(len(json.dumps(o)) for _, o in outs)
        if size > BUDGET: over.append(f"{nb.relative_to(ROOT)}: {size:,} bytes of outputs")
        errors += [f"{nb.relative_to(ROOT)} cell {cid}: {o.get('ename')}" for cid, o in outs if o.get('output_type') == 'error']
    assert not over, f"stored outputs over the {BUDGET:,}-byte budget (clear them: nbdev-clean): {over}"
    assert not errors, f"notebooks store tracebacks (run them again or clear them): {errors}"
