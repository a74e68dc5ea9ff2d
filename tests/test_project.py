"""The project's own files agree with each other: pyproject.toml, settings.ini, environment.yml, the package."""
import configparser, re, tomllib
from pathlib import Path
import yaml
import fpt_kit

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT/'pyproject.toml').read_text())
INI = configparser.ConfigParser(); INI.read(ROOT/'settings.ini')
SETTINGS = INI['DEFAULT']

def test_settings_ini_mirrors_pyproject():
    proj, nbd = PYPROJECT['project'], PYPROJECT['tool']['nbdev']
    assert SETTINGS['lib_name'] == proj['name']
    assert SETTINGS['version'] == fpt_kit.__version__
    assert SETTINGS['description'] == proj['description']
    assert proj['requires-python'] == f">={SETTINGS['min_python']}"
    assert SETTINGS['lib_path'] == nbd['lib_path'] and SETTINGS['nbs_path'] == nbd['nbs_path']
    assert SETTINGS['tst_flags'] == nbd['tst_flags']
    assert SETTINGS['requirements'].split() == proj['dependencies']
    assert SETTINGS['dev_requirements'].split() == proj['optional-dependencies']['dev']
    assert SETTINGS['keywords'].split() == proj['keywords']
    name, target = SETTINGS['console_scripts'].split('=')
    assert proj['scripts'] == {name: target}

def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT/'environment.yml').read_text())
    deps = env['dependencies']
    assert f"python={SETTINGS['min_python']}" in deps and 'pip' in deps
    pip = next(d['pip'] for d in deps if isinstance(d, dict))
    proj = PYPROJECT['project']
    assert pip[:-1] == proj['dependencies'] + proj['optional-dependencies']['dev']
    assert pip[-1] == '-e .[dev]'

def test_torch_not_pinned_above_the_machine_cap():
    torch_req = next(r for r in PYPROJECT['project']['dependencies'] if re.match(r'torch\b', r) and not r.startswith('torchvision'))
    assert '<=2.14.1' in torch_req

def test_version_is_dynamic_from_package():
    assert PYPROJECT['tool']['setuptools']['dynamic']['version'] == {'attr': 'fpt_kit.__version__'}
    assert re.fullmatch(r'\d+\.\d+\.\d+', fpt_kit.__version__)

def test_package_data_names_shipped_files():
    "Every package-data pattern matches files (a pattern that matches nothing ships nothing; tests/test_wheel.py builds the wheel)"
    for pkg, globs in PYPROJECT['tool']['setuptools']['package-data'].items():
        for g in globs: assert list((ROOT/pkg).glob(g)), f"package-data {pkg}: {g!r} matches no file"

def _first_python_block(text:str)->str: return re.search(r"```python\n(.*?)```", text, re.S)[1]

def test_readme_first_example_runs_as_written(tmp_path):
    "The front page's first example is runnable as written (offline: synthetic data, the shipped LPM), and README.md and index.ipynb show the same"
    import json, os, subprocess, sys
    code = _first_python_block((ROOT/'README.md').read_text())
    index = ''.join(''.join(c['source']) for c in json.loads((ROOT/'nbs'/'index.ipynb').read_text())['cells'] if c['cell_type'] == 'markdown')
    assert _first_python_block(index) == code, "README.md and nbs/index.ipynb show different first examples"
    assert '...' not in code
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'FPT_KIT_CACHE': str(tmp_path/'cache'), 'PYTHONWARNINGS': 'ignore'}
    r = subprocess.run([sys.executable, '-c', code + "\nprint('PREDICTED', learn.predict(items.path.iloc[-1])[0])"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'PREDICTED grade' in r.stdout, r.stdout[-2000:]

_NO_FCNTL = """
import os, sys, tempfile
sys.modules['fcntl'] = None  # as on Windows: `import fcntl` fails
import torch, fpt_kit
from fpt_kit.store import FeatureStore
print('PID', os.getpid())
store = FeatureStore(tempfile.mkdtemp(), dict(arch='t'), (1, 1, 1, 2))
with store.writer() as w:
    try: store.writer(); print('SECOND WRITER ADMITTED')
    except ValueError as e: print('REFUSED', e)
    w.write(['a'], torch.ones(1, 1, 1, 1, 2), torch.ones(1, 1, 1, 1, 2))
with store.writer() as w: w.write(['b'], torch.ones(1, 1, 1, 1, 2), torch.ones(1, 1, 1, 1, 2))
print('STORED', sorted(FeatureStore(store.path).keys()))
"""

def test_imports_and_writes_a_store_without_fcntl(tmp_path):
    "No fcntl at import time (Windows has none); the store's writer lock still refuses a second writer, and is released on close"
    import os, subprocess, sys
    r = subprocess.run([sys.executable, '-c', _NO_FCNTL], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, 'HF_HUB_OFFLINE': '1', 'PYTHONPATH': str(ROOT), 'PYTHONWARNINGS': 'ignore'})
    assert r.returncode == 0, r.stderr[-3000:]
    pid = r.stdout.split('PID ')[1].split()[0]
    assert "REFUSED rank 0 of the feature store at" in r.stdout and f'is being written by pid {pid};' in r.stdout, r.stdout
    assert "STORED ['a', 'b']" in r.stdout, r.stdout

def test_readme_is_generated_from_the_index_notebook():
    "One front page: README.md is exactly what tools/readme.py makes of nbs/index.ipynb (`make readme`)"
    import importlib.util
    spec = importlib.util.spec_from_file_location('readme_tool', ROOT/'tools'/'readme.py'); mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    assert mod.render() == (ROOT/'README.md').read_text(), "README.md differs from nbs/index.ipynb: edit the notebook and run `make readme`"
