"""Every notebook in nbs/ runs as a pytest test, through nbdev's in-process runner (cells flagged with the
`tst_flags` of pyproject.toml, e.g. `#| slow` and `#| cuda`, are skipped)."""
import io, os, sys
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook  # renamed: pytest would collect `test_nb`

cfg = get_config(Path(__file__).resolve().parents[1])
NBS = sorted(p for p in cfg.nbs_path.rglob('*.ipynb')
             if not any(part.startswith(('_', '.')) for part in p.relative_to(cfg.nbs_path).parts))

class _Tee(io.TextIOBase):
    "Write through to `stream` and keep a copy, so the assertion message can carry the traceback"
    def __init__(self, stream): self.stream, self.buf = stream, io.StringIO()
    def write(self, s):
        self.buf.write(s)
        return self.stream.write(s)
    def flush(self): self.stream.flush()
    def text(self): return self.buf.getvalue()

def _library_classes()->dict:
    "The attributes of every class of the kit and of fastai, as they are now"
    return {obj: dict(vars(obj)) for name, mod in list(sys.modules.items()) if name.startswith(('fpt_kit', 'fastai')) and mod is not None
            for obj in list(vars(mod).values()) if isinstance(obj, type) and obj.__module__ == name}

def _from_a_notebook(v)->bool: return getattr(v, '__module__', None) == '__main__'  # what a notebook cell defines

def _undo_notebook_patches(before:dict):
    """Put back the library's methods that a notebook's `@patch` cells replaced (or added) on the library's classes.
    A notebook re-runs its exported cells in its own namespace, so `@patch def m(self:FPTLearner)` there replaces the
    library's `FPTLearner.m` for every later notebook in this process, with one that returns the notebook's own classes."""
    for cls, attrs in before.items():
        for k, v in list(vars(cls).items()):
            if _from_a_notebook(v) or _from_a_notebook(getattr(v, 'fget', None)):
                if k in attrs: setattr(cls, k, attrs[k])
                else: delattr(cls, k)

@pytest.mark.parametrize('nb', NBS, ids=lambda p: str(p.relative_to(cfg.nbs_path)))
def test_notebook(nb, monkeypatch):
    monkeypatch.chdir(nb.parent)
    flags = os.environ.get('FPT_KIT_TEST_FLAGS', '').split()  # e.g. FPT_KIT_TEST_FLAGS=slow runs the slow cells too
    err = _Tee(sys.__stderr__)  # nbdev writes a failing cell's traceback to sys.__stderr__, which pytest does not capture
    monkeypatch.setattr(sys, '__stderr__', err)
    before = _library_classes()
    try: ok, secs = run_notebook(nb, skip_flags=cfg.tst_flags.split(), force_flags=flags, basepath=cfg.config_path)
    finally: _undo_notebook_patches(before)
    assert ok, f"{nb.name} failed:\n{err.text()[-4000:]}"
