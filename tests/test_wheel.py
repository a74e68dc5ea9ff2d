"""The package works after a normal, non-editable install: build an sdist and a wheel from it, install the wheel into a
fresh venv, and use the shipped LPM, the recipes and the console script from a folder outside the repository.

Offline: the build uses the setuptools already installed (`--no-isolation`), the wheel goes in with `--no-deps`, and the
new venv sees the dependencies of the project's own venv through a .pth line. A path a .pth file adds is not scanned
for .pth files of its own, so the project's editable install (a .pth finder there) stays out of the new venv."""
import json, os, shutil, subprocess, sys, sysconfig, tarfile, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ['fpt_kit/assets/lpm/fundus-vit128-d4.safetensors', 'fpt_kit/assets/lpm/fundus-vit128-d4.json',
           *(f"fpt_kit/assets/recipes/{p.name}" for p in sorted((ROOT/'data'/'recipes').glob('*.json'))),
           *(f"fpt_kit/assets/bench/{p.name}" for p in sorted((ROOT/'data'/'bench').glob('*.csv')))]  # measured figures the docs draw

def _run(cmd, **kwargs):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r

def _summary(names)->str:
    "The archive's files grouped by folder, for failure messages"
    by = {}
    for n in names: by.setdefault(n.rsplit('/', 1)[0] if '/' in n else '.', []).append(n.rsplit('/', 1)[-1])
    return f"{len(names)} files\n" + '\n'.join(f"  {d}/: {len(f)} ({', '.join(sorted(f)[:6])}{', ...' if len(f) > 6 else ''})" for d, f in sorted(by.items()))

_SKIP = shutil.ignore_patterns('.git', '.venv', 'build', 'dist', '*.egg-info', '__pycache__', '.ipynb_checkpoints', 'runs',
                               'node_modules', '_proc', '_docs', 'synthetic', 'cache', '.pytest_cache')

@pytest.fixture(scope='module')
def built(tmp_path_factory):
    "An sdist and the wheel built from it, from a copy of the working tree (the build writes nothing into the repository)"
    tmp = tmp_path_factory.mktemp('wheel')
    src = Path(shutil.copytree(ROOT, tmp/'src', symlinks=True, ignore=_SKIP))
    _run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', str(tmp/'dist'), str(src)], cwd=tmp)
    (whl,), (sdist,) = (tmp/'dist').glob('*.whl'), (tmp/'dist').glob('*.tar.gz')
    return tmp, whl, sdist

def test_wheel_and_sdist_carry_the_package_data(built):
    _, whl, sdist = built
    names = zipfile.ZipFile(whl).namelist()
    print(f"wheel {whl.name}: {_summary(names)}")
    want = SHIPPED + ['fpt_kit/_modidx.py', 'fpt_kit/cli.py', 'fpt_kit/models/backbone.py']
    assert not [n for n in want if n not in names], f"missing from the wheel: {[n for n in want if n not in names]}\n{_summary(names)}"
    assert not [n for n in names if n.startswith('fpt_kit/assets/') and n not in SHIPPED], f"unexpected data in the wheel\n{_summary(names)}"
    ep = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith('.dist-info/entry_points.txt'))).decode()
    assert 'fpt-kit = fpt_kit.cli:main' in ep and 'fpt_kit = fpt_kit._modidx:d' in ep, ep  # the console script and nbdev's index
    with tarfile.open(sdist) as t: snames = [n.split('/', 1)[1] for n in t.getnames() if '/' in n]
    assert not [n for n in SHIPPED if n not in snames], f"missing from the sdist: {[n for n in SHIPPED if n not in snames]}\n{_summary(snames)}"

_CHECK = """
import json, sys, torch, fpt_kit
from pathlib import Path
from fpt_kit import FrozenBackbone, load_recipe, list_recipes
from fpt_kit.models.lpm import shipped_lpm
lpm = shipped_lpm()
bb = FrozenBackbone(lpm.arch, weights=lpm.weights, img_size=lpm.img_size, **lpm.model_kwargs)
k, v = bb(torch.zeros(1, 3, lpm.img_size, lpm.img_size))
print(json.dumps(dict(file=fpt_kit.__file__, weights=str(lpm.weights), k=list(k.shape), recipes=list_recipes(),
                      messidor2=load_recipe('messidor2').n_classes)))
"""

def test_installed_wheel_runs_the_shipped_lpm_recipes_and_cli(built, tmp_path):
    _, whl, _ = built
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}  # only the new venv's own paths
    env.update(HF_HUB_OFFLINE='1', FPT_KIT_CACHE=str(tmp_path/'cache'), PYTHONWARNINGS='ignore')
    venv = tmp_path/'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)])
    py = venv/'bin'/'python'
    purelib = Path(_run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], env=env).stdout.strip())
    _run([sys.executable, '-m', 'pip', '--python', str(py), 'install', '--no-deps', '--no-index', '-q', str(whl)], env=env)
    # then torch, timm, fastai... from the project's venv, without its editable fpt_kit (after the install: pip would
    # otherwise see that venv's fpt_kit metadata and skip the wheel as "already satisfied")
    (purelib/'project_deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    work = tmp_path/'elsewhere'; work.mkdir()
    out = json.loads(_run([py, '-c', _CHECK], cwd=work, env=env).stdout.strip().splitlines()[-1])
    assert Path(out['file']).is_relative_to(purelib), f"imported {out['file']}, not the installed wheel in {purelib}"
    assert Path(out['weights']).is_relative_to(purelib/'fpt_kit'/'assets'), out
    assert out['recipes'] == sorted(Path(n).stem for n in SHIPPED if '/recipes/' in n), out
    assert out['messidor2'] == 5 and out['k'][0] >= 1, out
    r = _run([venv/'bin'/'fpt-kit', '--help'], cwd=work, env=env)
    assert 'train' in r.stdout and 'preload' in r.stdout, r.stdout
