"""The bad-input matrix of the trust issue: each case is a mistake a user makes with their own data or the command line,
and each must end in a clear error (naming the file or value, and the fix) or in the correct result, never in a silent
wrong one. `python tests/test_bad_inputs.py` prints the table of cases and verdicts; pytest runs each case as a test.

Every case builds what it needs under one temporary folder: a tiny dataset in the paper's layout and a (random) tiny
LPM saved to a weights file, so the command line can rebuild it. Nothing downloads."""
import contextlib, io, json, os, shutil, sys, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image

from fpt_kit import folder_items, csv_items, fpt_dls, fpt_learner, FPTData, load_image
from fpt_kit.cli import main
from fpt_kit.core import tiny_vit
from fpt_kit.data.io import LowRangeWarning
from test_reliability import write_dataset  # tests/ is on sys.path (pytest's rootdir, or this file's folder when run as a script)

TINY = ['--arch', 'vit_tiny_patch16_224', '--model-kwargs', '{"embed_dim": 64, "depth": 2, "num_heads": 4}', '--lpm-size', '64', '--side-size', '32']
CASES = {}  # name: (what the user did, function(ws) -> (verdict, message), substrings the message must hold)

def case(name:str, did:str, *says:str):
    "Register a bad-input case"
    def deco(f): CASES[name] = (did, f, says); return f
    return deco

class Workspace:
    "A temporary folder with a tiny dataset, a tiny LPM weights file and a trained run, made on first use"
    def __init__(self, root:Path):
        self.root = root
        os.environ['FPT_KIT_CACHE'] = str(root/'cache')
        self.ds = write_dataset(root/'ds', n=(4, 2, 2))
        from safetensors.torch import save_file
        save_file(tiny_vit(embed_dim=64, depth=2, num_heads=4).state_dict(), root/'lpm.safetensors')
        self.lpm = ['--weights', str(root/'lpm.safetensors')] + TINY
        self._run = None
    def copy(self, name:str)->Path: return Path(shutil.copytree(self.ds, self.root/name))
    @property
    def run(self)->Path:
        if self._run is None:
            self._run = self.root/'run'
            rc, msg = cli(['train', str(self.ds), '--out', str(self._run), '--epochs', '1', '--bs', '4'] + self.lpm)
            assert rc == 0, msg
        return self._run

def cli(args:list)->tuple[int, str]:
    "Exit status and everything `fpt-kit` wrote to stderr (stdout is kept too, after it)"
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        rc = main(args)
    return rc, err.getvalue() + out.getvalue()

def raised(fn)->tuple[str, str]:
    "('clear error', message) if `fn` raises, else ('no error', '')"
    try: fn()
    except Exception as e: return 'clear error', f"{type(e).__name__}: {e}"
    return 'no error', ''

def cli_error(args:list)->tuple[str, str]:
    rc, msg = cli(args)
    return ('clear error' if rc == 2 and 'error:' in msg else f'exit {rc}'), msg

def csv_of(ws, rows:dict, name='labels.csv', **kw)->Path:
    p = ws.root/name; pd.DataFrame(rows).to_csv(p, index=False, **kw); return p

ROWS = dict(path=['train/dim/0.png', 'train/bright/0.png', 'train/dim/1.png', 'val/dim/0.png', 'val/bright/0.png'],
            label=['dim', 'bright', 'dim', 'dim', 'bright'], split=['train', 'train', 'train', 'val', 'val'])

# --- labels and layouts ------------------------------------------------------------------------------------------
@case('csv_label_NA', "a CSV whose label is NA (pandas' missing value)", "labels.csv row 4 has label 'NA', a missing value", 'na_labels=()')
def _(ws): return raised(lambda: csv_items(csv_of(ws, {**ROWS, 'label': ['dim', 'bright', 'NA', 'dim', 'bright']}), root=ws.ds))

@case('csv_label_NaN', 'a CSV whose label is NaN', "has label 'NaN', a missing value", 'remove those rows or give them a label')
def _(ws): return raised(lambda: csv_items(csv_of(ws, {**ROWS, 'label': ['dim', 'NaN', 'dim', 'dim', 'bright']}), root=ws.ds))

@case('csv_label_N/A', 'a CSV whose label is N/A', "has label 'N/A', a missing value")
def _(ws): return raised(lambda: csv_items(csv_of(ws, {**ROWS, 'label': ['dim', 'bright', 'dim', 'N/A', 'bright']}), root=ws.ds))

@case('csv_label_trailing_space', "a label 'bright ' with a trailing space", "label 'bright ', with spaces around it", "next to 'bright'", 'remove the spaces')
def _(ws): return raised(lambda: csv_items(csv_of(ws, {**ROWS, 'label': ['dim', 'bright ', 'dim', 'dim', 'bright']}), root=ws.ds))

@case('csv_semicolons', 'a semicolon-separated CSV (a European spreadsheet export)', "labels.csv seems to be separated by ';'", "pass sep=';'")
def _(ws): return raised(lambda: csv_items(csv_of(ws, ROWS, sep=';'), root=ws.ds))

@case('csv_no_val_rows', 'a CSV whose split column has no val rows', 'no validation images', "'val' rows")
def _(ws):
    items = csv_items(csv_of(ws, {**ROWS, 'split': ['train'] * 3 + ['test'] * 2}), root=ws.ds)
    return raised(lambda: fpt_dls(items, FPTData(64, 32), device='cpu'))

@case('folder_dev_not_val', 'split folders train/ and dev/ (no val/)', "the folder(s) ['dev/'] were not read", 'rename the validation folder to val/')
def _(ws):
    d = ws.copy('with_dev'); (d/'val').rename(d/'dev')
    return raised(lambda: folder_items(d))

@case('folder_holdout_not_val', 'split folders train/, holdout/, test/', "the folder(s) ['holdout/'] were not read", 'val/')
def _(ws):
    d = ws.copy('with_holdout'); (d/'val').rename(d/'holdout')
    return cli_error(['train', str(d), '--out', str(ws.root/'r_holdout')] + ws.lpm)

@case('too_few_per_class', 'one folder per class, 4 images each: too few for a stratified 70/10/20 split', 'are too few for a stratified', 'give the split yourself')
def _(ws):
    d = ws.root/'few'
    for c in ('a', 'b', 'c'):
        for i in range(4): p = d/c/f"{i}.png"; p.parent.mkdir(parents=True, exist_ok=True); Image.new('RGB', (8, 8), (i * 40, 0, 0)).save(p)
    return cli_error(['check', str(d)])

# --- images -------------------------------------------------------------------------------------------------------
@case('png16_low_range_dtype', "a 16-bit PNG of 12-bit data (0..4000) read with scale='dtype'", 'scan.png', 'FPTData(scale=', '--scale')
def _(ws):
    p = ws.root/'scan.png'
    Image.fromarray(np.linspace(0, 4000, 64 * 64).reshape(64, 64).astype(np.uint16)).save(p)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        load_image(p, scale='dtype')
    hits = [str(x.message) for x in w if issubclass(x.category, LowRangeWarning)]
    return ('clear warning', hits[0]) if hits else ('no warning', '')

@case('png16_12bit_default', 'a 16-bit PNG of 12-bit data read with the default scale: keeps its grey levels', 'levels')
def _(ws):
    p = ws.root/'scan12.png'
    Image.fromarray(np.linspace(0, 4000, 64 * 64).reshape(64, 64).astype(np.uint16)).save(p)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', LowRangeWarning)
        n, n_dtype = (len(np.unique(np.asarray(load_image(p, scale=s)))) for s in ('auto', 'dtype'))
    return ('correct' if n > 200 else 'wrong'), f"{n} grey levels of 256 (mapping the container's 0..65535 would leave {n_dtype})"

@case('image_edited_after_preload', 'an image re-exported in place after preloading, then training', 'changed since they were stored', 'learn.preload()')
def _(ws):
    d = ws.copy('edited')
    dls = fpt_dls(folder_items(d), FPTData(64, 32), bs=4, device='cpu')
    learn = fpt_learner(dls, 'vit_tiny_patch16_224', pretrained=False, model_kwargs=dict(embed_dim=64, depth=2, num_heads=4))
    learn.preload(root=ws.root/'edited_features', progress=False)
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(d/'val'/'dim'/'0.png')
    return raised(lambda: learn.fit(1))

# --- the command line ---------------------------------------------------------------------------------------------
@case('out_not_writable', '--out under a regular file (a path that cannot be created)', 'cannot write to --out', 'choose a folder you can write to')
def _(ws):
    (ws.root/'a_file').write_text('')
    v, msg = cli_error(['train', str(ws.ds), '--out', str(ws.root/'a_file'/'run'), '--root', str(ws.root/'never')] + ws.lpm)
    return (v if not (ws.root/'never').exists() else 'preloaded first'), msg

@case('out_holds_a_run', 'train again into a run folder', 'already holds a run (config.json', '--overwrite')
def _(ws): return cli_error(['train', str(ws.ds), '--out', str(ws.run)] + ws.lpm)

@case('recipe_class_count', "--recipe isic2016 (2 classes) on a 3-class dataset", 'ISIC 2016 has 2 classes but', 'leave --recipe out')
def _(ws):
    d = ws.root/'three'; write_dataset(d, classes=('a', 'b', 'c'), n=(4, 2, 2))
    return cli_error(['train', str(d), '--out', str(ws.root/'r_recipe'), '--recipe', 'isic2016'] + ws.lpm)

@case('monitor_unknown', '--monitor f1 (not a metric of the run)', "--monitor='f1' is not allowed", "'auc'")
def _(ws): return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_mon'), '--monitor', 'f1'] + ws.lpm)

@case('scale_unparsable', '--scale 0..4095 (not a rule or a window)', "scale '0..4095' is not a scale", 'a window lo,hi')
def _(ws): return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_scale'), '--scale', '0..4095'] + ws.lpm)

@case('evaluate_changed_test_image', 'a test image edited after training, then evaluate', 'test image(s) changed since the run was trained', '--data')
def _(ws):
    run = ws.run
    victim = Path(pd.read_csv(run/'items.csv').query("split == 'test'").path.iloc[0]); orig = victim.read_bytes()
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(victim)
    try: return cli_error(['evaluate', str(run)])
    finally: victim.write_bytes(orig)

@case('evaluate_missing_test_image', 'a test image deleted after training, then evaluate', 'test image(s) of the run are gone', 'restore them')
def _(ws):
    run = ws.run
    victim = Path(pd.read_csv(run/'items.csv').query("split == 'test'").path.iloc[0]); orig = victim.read_bytes(); victim.unlink()
    try: return cli_error(['evaluate', str(run)])
    finally: victim.write_bytes(orig)

@case('evaluate_lpm_file_replaced', "the LPM weights file replaced after training, then evaluate", 'differs from the one the run', 'restore the original file')
def _(ws):
    run, f = ws.run, ws.root/'lpm.safetensors'
    orig = f.read_bytes()
    from safetensors.torch import save_file
    save_file(tiny_vit(embed_dim=64, depth=2, num_heads=4).state_dict(), f)
    try: return cli_error(['evaluate', str(run)])
    finally: f.write_bytes(orig)

@case('predict_one_bad_file', 'predict three images, one of them not an image', 'bad.png is not an image PIL can read', 'the others were')
def _(ws):
    (ws.root/'bad.png').write_text('not an image')
    imgs = [str(p) for p in sorted((ws.ds/'test'/'dim').iterdir())]
    rc, msg = cli(['predict', str(ws.run), imgs[0], str(ws.root/'bad.png'), imgs[1], '--csv', str(ws.root/'preds.csv')])
    preds = pd.read_csv(ws.root/'preds.csv', keep_default_na=False)
    ok = rc == 2 and list(preds.prediction != '') == [True, False, True]
    return ('clear error, others predicted' if ok else f'exit {rc}'), msg

@case('weights_file_corrupt', 'a damaged weights.safetensors in the run folder', 'is not a readable safetensors file', 'restore it')
def _(ws):
    run = Path(shutil.copytree(ws.run, ws.root/'run_corrupt'))
    raw = (run/'weights.safetensors').read_bytes(); (run/'weights.safetensors').write_bytes(raw[:len(raw) // 3])
    return cli_error(['evaluate', str(run)])

@case('metrics_nan_is_null', "a validation split missing a class (AUC undefined): metrics.json stays strict JSON", 'null')
def _(ws):
    d = ws.copy('no_bright_val')
    shutil.rmtree(d/'val'/'bright')
    rc, msg = cli(['train', str(d), '--out', str(ws.root/'r_nan'), '--epochs', '1', '--bs', '4'] + ws.lpm)
    text = (ws.root/'r_nan'/'metrics.json').read_text() if rc == 0 else ''
    try: json.loads(text, parse_constant=lambda c: 1 / 0); strict = bool(text)
    except (ValueError, ZeroDivisionError): strict = False
    return ('correct' if strict and json.loads(text)['valid']['auc'] is None else f'exit {rc}'), text or msg

@case('weights_do_not_fit', '--weights saved from a ViT of another width than --model-kwargs says', 'do not fit', 'cls_token', 'give the model arguments the weights were saved with')
def _(ws):
    from safetensors.torch import save_file
    save_file(tiny_vit(embed_dim=32, depth=2, num_heads=4).state_dict(), ws.root/'narrow.safetensors')
    return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_fit'), '--weights', str(ws.root/'narrow.safetensors')] + TINY)

@case('lr_negative', '--lr -1', "--lr=-1.0 is out of range", '(0, inf]')
def _(ws): return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_lr'), '--lr', '-1'] + ws.lpm)

@case('bs_zero', '--bs 0: refused before anything is read, and no empty --out is left', "--bs=0 is out of range")
def _(ws):
    v, msg = cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_bs'), '--bs', '0'] + ws.lpm)
    return (v if not (ws.root/'r_bs').exists() else 'left an empty --out'), msg

@case('epochs_zero', '--epochs 0', "--epochs=0 is out of range")
def _(ws): return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_ep'), '--epochs', '0'] + ws.lpm)

@case('monitor_kappa_ungraded', '--monitor kappa without a graded recipe', '--monitor kappa needs a graded recipe', 'messidor2')
def _(ws): return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_kappa'), '--monitor', 'kappa'] + ws.lpm)

@case('failed_train_leaves_no_empty_out', 'a train that fails on the data (3 classes, --recipe of 2) leaves no empty --out', 'ISIC 2016 has 2 classes')
def _(ws):
    d = ws.root/'three2'; write_dataset(d, classes=('a', 'b', 'c'), n=(4, 2, 2))
    v, msg = cli_error(['train', str(d), '--out', str(ws.root/'r_empty'), '--recipe', 'isic2016'] + ws.lpm)
    return (v if not (ws.root/'r_empty').exists() else 'left an empty --out'), msg

@case('interrupted_training_keeps_best', 'Ctrl-C (SIGINT) during training', 'interrupted; the best epoch so far', 'is saved in')
def _(ws):
    import signal, subprocess
    out = ws.root/'r_int'
    cmd = [sys.executable, '-m', 'fpt_kit.cli', 'train', str(ws.ds), '--out', str(out), '--epochs', '200', '--bs', '2', '--root', str(ws.root/'cache_int')] + ws.lpm
    pr = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    for line in pr.stdout:
        if line.startswith('epoch 1 '): break
    pr.send_signal(signal.SIGINT)
    _, err = pr.communicate(timeout=120)
    saved = (out/'weights.safetensors').is_file() and json.loads((out/'config.json').read_text()).get('interrupted')
    return ('clear error' if pr.returncode == 130 and saved else f'exit {pr.returncode}, saved={saved}'), err

@case('predict_a_folder', 'predict with a folder of images instead of files', 'test/dim/0.png', 'test/dim/1.png')
def _(ws):
    rc, msg = cli(['predict', str(ws.run), str(ws.ds/'test'/'dim'), '--csv', str(ws.root/'folder_preds.csv')])
    preds = pd.read_csv(ws.root/'folder_preds.csv', keep_default_na=False) if rc == 0 else pd.DataFrame(columns=['prediction'])
    ok = len(preds) == 2 and (preds.prediction != '').all()
    return ('correct' if ok else f'exit {rc}'), preds.to_csv(index=False) if ok else msg

@case('graded_recipe_reports_kappa', '--recipe messidor2 (graded DR grades) on a 5-class dataset: metrics include quadratic kappa', '"kappa"')
def _(ws):
    d, rng = ws.root/'grades', np.random.default_rng(5)
    for split, n in (('train', 2), ('val', 1), ('test', 1)):
        for g in range(5):
            for i in range(n):
                p = d/split/f"grade{g}"/f"{i}.png"; p.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.clip(30 + 45 * g + rng.normal(0, 15, (32, 32, 3)), 0, 255).astype(np.uint8)).save(p)
    rc, msg = cli(['train', str(d), '--out', str(ws.root/'r_kappa5'), '--recipe', 'messidor2', '--monitor', 'kappa', '--epochs', '1', '--bs', '4'] + ws.lpm)
    m = json.loads((ws.root/'r_kappa5'/'metrics.json').read_text()) if rc == 0 else {}
    return ('correct' if 'kappa' in m.get('test', {}) and m['kept']['monitor'] == 'kappa' else f'exit {rc}'), json.dumps(m) if m else msg

class Opaque:
    "An object of a class of ours: unpickling it would run code of this module"

@case('weights_pickle', '--weights a .pth pickle that holds an object, not only tensors', 'weights_only=True refused it', 'convert it to safetensors')
def _(ws):
    torch.save({'state_dict': tiny_vit(embed_dim=64, depth=2, num_heads=4).state_dict(), 'extra': Opaque()}, ws.root/'lpm.pth')
    return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_pkl'), '--weights', str(ws.root/'lpm.pth')] + TINY)

@case('weights_truncated', '--weights a safetensors file cut short', 'is not a readable safetensors file', 'truncated or corrupt')
def _(ws):
    raw = (ws.root/'lpm.safetensors').read_bytes(); (ws.root/'cut.safetensors').write_bytes(raw[:len(raw) // 2])
    return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_cut'), '--weights', str(ws.root/'cut.safetensors')] + TINY)

@case('weights_nested_elsewhere', '--weights a checkpoint whose state dict sits under an unusual key', "holds its tensors under ['net']", "under 'state_dict' or 'model'")
def _(ws):
    torch.save({'net': tiny_vit(embed_dim=64, depth=2, num_heads=4).state_dict(), 'step': torch.tensor(3)}, ws.root/'nested.pth')
    return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_nest'), '--weights', str(ws.root/'nested.pth')] + TINY)

@case('pretrained_offline', '--pretrained with no network', 'could not download the weights of', '--weights')
def _(ws):
    os.environ['HF_HUB_OFFLINE'] = '1'
    return cli_error(['train', str(ws.ds), '--out', str(ws.root/'r_hub'), '--pretrained'] + TINY)

@pytest.fixture(scope='module')
def ws(tmp_path_factory):
    old = os.environ.get('FPT_KIT_CACHE')
    yield Workspace(tmp_path_factory.mktemp('bad_inputs'))
    if old is None: os.environ.pop('FPT_KIT_CACHE', None)
    else: os.environ['FPT_KIT_CACHE'] = old

@pytest.mark.parametrize('name', list(CASES))
def test_bad_input(name, ws):
    did, f, says = CASES[name]
    verdict, msg = f(ws)
    assert verdict in ('clear error', 'clear warning', 'correct', 'clear error, others predicted'), (verdict, msg)
    for s in says: assert s in msg, f"{s!r} not in {msg!r}"

if __name__ == '__main__':  # the table of cases and verdicts
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        w = Workspace(Path(d))
        rows = []
        for name, (did, f, says) in CASES.items():
            verdict, msg = f(w)
            ok = all(s in msg for s in says)
            rows.append(dict(case=name, what=did, verdict=verdict if ok else f"{verdict} (message lacks {[s for s in says if s not in msg]})",
                             message=' '.join(msg.split())[:160].replace(d, '<tmp>')))
    print(pd.DataFrame(rows).to_markdown(index=False) if 'tabulate' in sys.modules or __import__('importlib').util.find_spec('tabulate')
          else pd.DataFrame(rows).to_string(index=False))
