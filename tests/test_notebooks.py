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

@pytest.mark.parametrize('nb', NBS, ids=lambda p: str(p.relative_to(cfg.nbs_path)))
def test_notebook(nb, monkeypatch):
    monkeypatch.chdir(nb.parent)
    flags = os.environ.get('FPT_KIT_TEST_FLAGS', '').split()  # e.g. FPT_KIT_TEST_FLAGS=slow runs the slow cells too
    err = _Tee(sys.__stderr__)  # nbdev writes a failing cell's traceback to sys.__stderr__, which pytest does not capture
    monkeypatch.setattr(sys, '__stderr__', err)
    ok, secs = run_notebook(nb, skip_flags=cfg.tst_flags.split(), force_flags=flags, basepath=cfg.config_path)
    assert ok, f"{nb.name} failed:\n{err.text()[-4000:]}"
