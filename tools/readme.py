"""README.md is generated from nbs/index.ipynb (the front page of the docs): `make readme` writes it, and
tests/test_project.py fails when the two disagree. (nbdev's own `nbdev-readme` needs quarto, which cannot be installed
offline.) Markdown cells are copied as they are; code cells are shown as Python blocks, except `#| hide` cells."""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def render(nb_path:Path=ROOT/'nbs'/'index.ipynb')->str:
    "README.md's text from the notebook's cells"
    parts = []
    for c in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src.strip('\n'))
        elif c['cell_type'] == 'code':
            lines = src.split('\n')
            dirs = [l for l in lines if l.startswith('#|')]
            if any(d.split()[1:2] in (['hide'], ['default_exp'], ['export']) or 'hide' in d for d in dirs): continue
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
            if code: parts.append(f"```python\n{code}\n```")
    head = "<!-- Generated from nbs/index.ipynb by `make readme` (tools/readme.py): edit the notebook, not this file. -->\n\n"
    return head + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    out = ROOT/'README.md'
    text = render()
    if '--check' in sys.argv:
        if out.read_text() != text: sys.exit("README.md differs from what nbs/index.ipynb makes of it: run `make readme` (edit the notebook, not README.md)")
    else: out.write_text(text)
