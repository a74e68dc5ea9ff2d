"""The third-party patches of fpt_kit._patches are in force wherever the kit relies on them: a fresh process that
imports `fpt_kit.learner` (and nothing else of the kit) trains with the kit's `DistributedDL._broadcast`."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _run(code: str) -> str:
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip()

def test_learner_puts_the_broadcast_patch_in_force():
    code = ("import fastai.distributed as d; before = d.DistributedDL._broadcast.__module__\n"
            "import fpt_kit.learner, fpt_kit._patches as p\n"
            "print(before, d.DistributedDL._broadcast is p._broadcast, p.PATCHED)")
    assert _run(code) == "fastai.distributed True ['fastai.distributed.DistributedDL._broadcast']"
