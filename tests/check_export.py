"""Check that fpt_kit/ is what `nbdev-export` makes of nbs/, without touching the working tree.

Copies pyproject.toml, nbs/ and fpt_kit/ to a temporary folder, runs nbdev-export there, and compares the generated
files with the ones in the repository. Exits 1 with the list of differing files and the fix when they differ."""
import difflib, filecmp, os, shutil, subprocess, sys, tempfile
from pathlib import Path

root = Path(__file__).resolve().parents[1]
lib = 'fpt_kit'
ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.ipynb_checkpoints')

def files(d: Path):
    return {p.relative_to(d) for p in d.rglob('*') if p.is_file() and not p.is_symlink()
            and '__pycache__' not in p.parts and p.parts[len(d.parts)] != 'assets'}

with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    shutil.copy(root/'pyproject.toml', tmp)
    shutil.copytree(root/'nbs', tmp/'nbs', ignore=ignore)
    shutil.copytree(root/lib, tmp/lib, ignore=ignore, symlinks=True)
    exe = Path(sys.executable).parent/'nbdev-export'
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    r = subprocess.run([str(exe)], cwd=tmp, env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"nbdev-export failed on a copy of nbs/:\n{r.stdout}{r.stderr}")
    old, new = files(root/lib), files(tmp/lib)
    changed = sorted(str(p) for p in old & new if not filecmp.cmp(root/lib/p, tmp/lib/p, shallow=False))
    added, removed = sorted(map(str, new - old)), sorted(map(str, old - new))
    if changed or added or removed:
        print("fpt_kit/ is out of step with the notebooks in nbs/ (fpt_kit/*.py are generated, never edited by hand).")
        for p in changed:
            a = (root/lib/p).read_text().splitlines(); b = (tmp/lib/p).read_text().splitlines()
            diff = list(difflib.unified_diff(a, b, f'{lib}/{p} (repository)', f'{lib}/{p} (nbdev-export)', lineterm='', n=1))
            print(f"  changed: {lib}/{p}"); print('\n'.join('    ' + l for l in diff[:40]))
        for p in added: print(f"  would be created: {lib}/{p}")
        for p in removed: print(f"  not made by any notebook: {lib}/{p}")
        print("Fix: run `nbdev-export` (or `make export`) and commit the result; edit the notebooks, not fpt_kit/.")
        sys.exit(1)
print(f"check-export: {lib}/ is in step with nbs/ ({len(old)} generated files)")
