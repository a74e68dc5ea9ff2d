"""Reliability: bad inputs give clear errors (the file or value, and the fix) or a documented handling; preloading
survives kills, concurrency, damage and a full disk (tests/fault_injection.py); stores and weights load without
executing code; the suite stays offline.

Everything goes through the public API a user touches: load_image, folder_items, csv_items, fpt_dls, fpt_learner and
its fit/predict, preload, preloaded_dls, FeatureStore. Models are tiny timm ViTs built with pretrained=False."""
import json, os, pickle, re, shutil, socket, struct, subprocess, sys, warnings, zlib
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
import tifffile
from fpt_kit import (load_image, folder_items, csv_items, class_folder_items, fpt_dls, fpt_learner, FPTData, FPTConfig,
                     build_fpt, preloaded_dls, FeatureStore)
from fpt_kit.data.io import to_uint8
from fpt_kit.store import StoreError, FORMAT_VERSION
from fpt_kit.preload import preload, check_store
from fpt_kit.data.core import hash_items
from fpt_kit.test_utils import toy_dataset

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(embed_dim=64, depth=2, num_heads=4)  # LPM width 64, 4 heads; side width 8
DATA = FPTData(lpm_size=64, side_size=32)
ARCH = 'vit_tiny_patch16_224'

def write_dataset(root:Path, classes=('dim', 'bright'), n=(4, 2, 1), size=48, seed=0)->Path:
    "root/{train,val,test}/<class>/<i>.png: noisy images whose brightness tells the class (`toy_dataset`, this file's small defaults)"
    return toy_dataset(root, *n, size=size, seed=seed, classes=classes)

def learner(dls, **kwargs):
    return fpt_learner(dls, ARCH, pretrained=False, model_kwargs=TINY, **kwargs)

def quiet_fit(learn, epochs=1, **kwargs):
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit(epochs, **kwargs)

def offline(cmd:list)->list:
    "`cmd` in a network namespace of its own (no network at all) where `unshare -n` works (root); as is otherwise"
    ok = shutil.which('unshare') and subprocess.run(['unshare', '-n', 'true'], capture_output=True).returncode == 0
    return ['unshare', '-n', *cmd] if ok else cmd

def error_of(fn)->BaseException:
    "The exception `fn()` raises (fails the test when it raises none)"
    with pytest.raises(Exception) as e: fn()
    return e.value

@pytest.fixture(scope='module')
def ds(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp('ds')/'ds')

# =====================================================================================================================
# Bad image files: load_image names the file and says what to do

def _png_header(w:int, h:int)->bytes:
    "A PNG that claims to be w x h (header only): what a decompression bomb looks like to a reader"
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IEND', b'')

def _good(tmp:Path, name:str, size=(64, 48), **kw)->bytes:
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(tmp/name, **kw)
    return (tmp/name).read_bytes()

def _make_bad(kind:str, tmp:Path)->Path:
    "Write one bad file of `kind`; returns its path"
    if kind == 'truncated_png': raw = _good(tmp, 'x.png'); p = tmp/'truncated.png'; p.write_bytes(raw[:len(raw) // 2])
    elif kind == 'truncated_jpeg': raw = _good(tmp, 'x.jpg', quality=90); p = tmp/'truncated.jpg'; p.write_bytes(raw[:len(raw) // 2])
    elif kind == 'corrupt_png':  # bytes zeroed in the middle: fails the PNG's own checks
        raw = bytearray(_good(tmp, 'x.png')); raw[len(raw) // 2:len(raw) // 2 + 64] = bytes(64); p = tmp/'corrupt.png'; p.write_bytes(raw)
    elif kind in ('zero_png', 'zero_jpg', 'zero_dcm'): p = tmp/f"empty.{kind[5:]}"; p.touch()
    elif kind == 'text_as_png': p = tmp/'notes.png'; p.write_text('patient,grade\n1,2\n')
    elif kind == 'html_as_jpeg': p = tmp/'download.jpeg'; p.write_text('<!DOCTYPE html><html><body>403 Forbidden</body></html>')
    elif kind == 'text_as_dcm': p = tmp/'scan.dcm'; p.write_text('not a DICOM file ' * 20)
    elif kind == 'missing': p = tmp/'nowhere.png'
    elif kind == 'folder': p = tmp/'a_folder.png'; p.mkdir()
    elif kind == 'bomb_over_limit': p = tmp/'huge.png'; p.write_bytes(_png_header(12000, 12000))  # 144 M pixels > 89 M
    elif kind == 'bomb_far_over_limit': p = tmp/'bomb.png'; p.write_bytes(_png_header(50000, 50000))
    elif kind == 'float_all_nan': p = tmp/'allnan.tif'; tifffile.imwrite(p, np.full((8, 8), np.nan, np.float32))
    elif kind == 'float_with_inf': a = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8); a[0, 0] = np.inf; p = tmp/'inf.tif'; tifffile.imwrite(p, a)
    else: raise AssertionError(kind)
    return p

BAD_FILES = {  # kind: (exception type, what the message must say besides the file's name)
    'truncated_png': (ValueError, ['is truncated or corrupt', 're-export or re-download it, or remove it from the dataset']),
    'truncated_jpeg': (ValueError, ['is truncated or corrupt', 're-export or re-download it']),
    'corrupt_png': (ValueError, ['is truncated or corrupt', 'remove it from the dataset']),
    'zero_png': (ValueError, ['is empty (0 bytes)', 'fetch it again or remove it']),
    'zero_jpg': (ValueError, ['is empty (0 bytes)', 'fetch it again or remove it']),
    'zero_dcm': (ValueError, ['is empty (0 bytes)', 'fetch it again or remove it']),
    'text_as_png': (ValueError, ["is not an image PIL can read (it starts with b'patient", 'remove it from the dataset or convert it to PNG']),
    'html_as_jpeg': (ValueError, ["is not an image PIL can read (it starts with b'<!DOCTYPE", 'remove it from the dataset']),
    'text_as_dcm': (ValueError, ['has no image in it', 'remove it from the image folder']),
    'missing': (FileNotFoundError, ['does not exist; check the path']),
    'folder': (ValueError, ['is not a file; give an image file']),
    'bomb_over_limit': (ValueError, ['is 12000x12000 = 144,000,000 pixels, more than PIL.Image.MAX_IMAGE_PIXELS', 'if you trust the file, raise the limit']),
    'bomb_far_over_limit': (ValueError, ['is larger than PIL allows', 'raise the limit: PIL.Image.MAX_IMAGE_PIXELS']),
    'float_all_nan': (ValueError, ['holds no finite values', 're-export it or remove it from the dataset']),
    'float_with_inf': (ValueError, ['holds floating-point values in [0.015873, inf]', "pass scale='minmax' or scale=(lo, hi)"]),
}

@pytest.mark.parametrize('kind', list(BAD_FILES))
def test_bad_image_file(kind, tmp_path):
    p = _make_bad(kind, tmp_path)
    etype, says = BAD_FILES[kind]
    e = error_of(lambda: load_image(p))
    assert type(e) is etype, (type(e), e)
    assert p.name in str(e), f"the error does not name the file: {e}"
    for s in says: assert s in str(e), f"{s!r} not in {e}"

def test_nan_and_inf_pixels_documented_handling(tmp_path):
    "NaN pixels are black, infinities saturate, 'minmax' stretches the finite values (the rule table of load_image)"
    a = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8); a[0, :2] = np.nan; a[1, :2] = (np.inf, -np.inf)
    tifffile.imwrite(tmp_path/'f.tif', a)
    out = np.asarray(load_image(tmp_path/'f.tif', scale='minmax'))[..., 0]
    assert out[0, :2].tolist() == [0, 0] and out[1, :2].tolist() == [255, 0]
    fin = a[np.isfinite(a)]
    np.testing.assert_array_equal(out, to_uint8(a, fin.min(), fin.max()))  # the finite values span 0..255
    assert out.max() == 255 and out[np.isfinite(a)].min() == 0

@pytest.mark.parametrize('kind', ['truncated_png', 'zero_png', 'text_as_png'])
def test_bad_image_in_a_dataset_is_named_when_training(kind, tmp_path):
    "One bad file among many: the DataLoaders, fit and predict all name that file"
    root = write_dataset(tmp_path/'ds')
    bad = _make_bad(kind, tmp_path)
    target = root/'train'/'dim'/'2.png'; good = target.read_bytes(); target.write_bytes(bad.read_bytes())
    if kind != 'truncated_png':  # no readable header: fpt_dls finds it already (it reads every header to choose the intensity mapping)
        e = error_of(lambda: fpt_dls(folder_items(root), DATA, bs=4, device='cpu'))
        assert 'train/dim/2.png' in str(e) and BAD_FILES[kind][1][0] in str(e), e
        target.write_bytes(good)
    dls = fpt_dls(folder_items(root), DATA, bs=4, device='cpu', seed=0)
    target.write_bytes(bad.read_bytes())  # (again) bad once the DataLoaders exist: reading it names it
    e = error_of(lambda: [b for b in dls.train])
    assert 'train/dim/2.png' in str(e) and BAD_FILES[kind][1][0] in str(e), e
    learn = learner(dls)
    e = error_of(lambda: quiet_fit(learn))
    assert 'train/dim/2.png' in str(e), e
    e = error_of(lambda: learn.predict(target))
    assert 'train/dim/2.png' in str(e), e

def test_bad_image_named_by_worker_processes(tmp_path):
    "With DataLoader worker processes the error still names the file"
    root = write_dataset(tmp_path/'ds')
    raw = (root/'val'/'bright'/'1.png').read_bytes(); (root/'val'/'bright'/'1.png').write_bytes(raw[:len(raw) // 3])
    dls = fpt_dls(folder_items(root), DATA, bs=4, device='cpu', num_workers=1)
    e = error_of(lambda: [b for b in dls.valid])
    assert 'val/bright/1.png is truncated or corrupt' in str(e), e

def test_bad_image_stops_preload_which_then_resumes(tmp_path):
    "preload stops at the bad file, naming it; what came before is kept; after the fix it resumes to completion"
    root = write_dataset(tmp_path/'ds')
    items = folder_items(root)
    model = build_fpt(ARCH, 2, FPTConfig(lpm_size=64, side_size=32), **TINY)
    bad = root/'train'/'bright'/'0.png'; good = bad.read_bytes(); bad.write_bytes(b'')
    e = error_of(lambda: preload(model.backbone, items, DATA, root=tmp_path/'feat', bs=2, device='cpu', progress=False))
    assert 'train/bright/0.png is empty (0 bytes)' in str(e)
    store = FeatureStore(next((tmp_path/'feat').iterdir()))
    stored_before = int(np.flatnonzero(items.key == 'train/bright/0.png')[0]) // 2 * 2
    bad.write_bytes(good)
    hashed = hash_items(items)
    assert store.keys() == list(hashed.hash[:stored_before]) and stored_before > 0  # records are filed by content
    store = preload(model.backbone, items, DATA, root=tmp_path/'feat', bs=2, device='cpu', progress=False)
    assert sorted(store.keys()) == sorted(hashed.hash) and store.report.computed == len(items) - stored_before

# ---------------------------------------------------------------------------------------------------------------------
# Image size: smaller than one patch is accepted (resized up), 8000x8000 stays bounded in memory

def test_image_smaller_than_a_patch_is_resized_and_trains(tmp_path):
    "Decision: images smaller than one 16-px patch (even 1x1) are accepted; each view resizes them to its size"
    root = write_dataset(tmp_path/'ds', size=8)
    Image.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(root/'train'/'bright'/'0.png')
    dls = fpt_dls(folder_items(root), DATA, bs=4, device='cpu', seed=0)
    xs, xl, y = dls.one_batch()
    assert (xs.shape[1:], xl.shape[1:]) == ((3, 32, 32), (3, 64, 64))
    learn = learner(dls)
    quiet_fit(learn)
    assert np.isfinite(learn.recorder.losses[-1].item())
    assert learn.predict(root/'train'/'bright'/'0.png')[2].shape == (2,)

_MEASURE = r"""
import json, os, re, sys, pandas as pd
from pathlib import Path
from fpt_kit.data.core import FPTData, fpt_dls
status = lambda k: int(re.search(rf'^{k}:\s+(\d+) kB', Path('/proc/self/status').read_text(), re.M)[1]) / 1024
out = {}
for f in sys.argv[1:]:
    Path('/proc/self/clear_refs').write_text('5')  # reset the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
    base = status('VmRSS')
    items = pd.DataFrame(dict(path=[f, f], key=['a', 'b'], label=['x', 'x'], split=['train', 'valid']))
    dls = fpt_dls(items, FPTData(lpm_size=64, side_size=32), bs=1, device='cpu', allow_duplicates=True)  # one file as both splits
    shapes = [[list(t.shape) for t in dls.valid.one_batch()] for _ in range(3)] + [[list(t.shape) for t in dls.train.one_batch()]]
    del dls
    out[Path(f).suffix] = dict(peak=status('VmHWM') - base, kept=status('VmRSS') - base, shapes=shapes)
print(json.dumps(out))
"""

def test_8000px_image_memory_is_bounded(tmp_path):
    "8000x8000 JPEG and PNG through fpt_dls: peak memory below twice the decoded image (183 MiB), nothing kept afterwards"
    im = Image.new('RGB', (8000, 8000), (30, 60, 90))
    im.paste((200, 180, 20), (0, 0, 4000, 8000))
    im.save(tmp_path/'big.jpg', quality=90); im.save(tmp_path/'big.png', compress_level=1)
    del im
    r = subprocess.run(offline([sys.executable, '-c', _MEASURE, str(tmp_path/'big.jpg'), str(tmp_path/'big.png')]),
                       capture_output=True, text=True, timeout=300, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    decoded = 8000 * 8000 * 3 / 2**20
    for fmt in ('.jpg', '.png'):
        assert res[fmt]['shapes'] == [[[1, 3, 32, 32], [1, 3, 64, 64], [1]]] * 4, res
        assert res[fmt]['kept'] < 64, res  # the full-size image is not kept (cached or leaked)
    assert res['.jpg']['peak'] < 64, res  # a JPEG is decoded at reduced scale (libjpeg's draft mode): never full size
    assert res['.png']['peak'] < 2 * decoded, res  # a PNG is decoded once at full size, then reduced

# =====================================================================================================================
# Dataset structure: empty class folders, classes missing from a split, CSV rows

@pytest.mark.parametrize('content', ['nothing', 'only_non_images'])
def test_empty_class_folder(content, tmp_path):
    root = write_dataset(tmp_path/'ds')
    empty = root/'train'/'grey'; empty.mkdir()
    if content == 'only_non_images': (empty/'README.txt').write_text('to do'); (empty/'.DS_Store').write_bytes(b'\0')
    e = error_of(lambda: folder_items(root))
    assert type(e) is ValueError and "class folder" in str(e) and 'train/grey' in str(e) and 'holds no images; remove it or add its images' in str(e)
    flat = tmp_path/'flat'; (flat/'a').mkdir(parents=True); (flat/'b').mkdir()
    for i in range(3): Image.new('RGB', (8, 8)).save(flat/'a'/f"{i}.png")
    e = error_of(lambda: class_folder_items(flat))
    assert 'flat/b' in str(e) and 'holds no images' in str(e)

def test_class_absent_from_validation_is_warned_and_trains(tmp_path):
    "Documented handling: a warning names the class; training runs; the undefined AUC is NaN and the last epoch is kept"
    root = write_dataset(tmp_path/'ds')
    for p in (root/'val'/'bright').iterdir(): p.unlink()
    (root/'val'/'bright').rmdir()
    with pytest.warns(UserWarning, match=r"class\(es\) \['bright'\] have no valid images; per-class metrics such as AUC are undefined"):
        items = folder_items(root)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls = fpt_dls(items, DATA, bs=4, device='cpu', seed=0)
        learn = learner(dls)
        with learn.no_bar(), learn.no_logging(): learn.fit_fpt(2)
    loss, auc, acc = learn.recorder.values[-1][1:]
    assert np.isfinite(loss) and np.isnan(auc) and 0 <= acc <= 1

def test_class_absent_from_training_is_refused(tmp_path):
    "A class with validation images but no training images (a misspelt folder) is refused by fpt_dls"
    root = write_dataset(tmp_path/'ds')
    (root/'val'/'Bright').mkdir(); (root/'val'/'bright'/'0.png').rename(root/'val'/'Bright'/'0.png')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # 'Bright' has no test images either
        items = folder_items(root)
        e = error_of(lambda: fpt_dls(items, DATA, device='cpu'))
    assert type(e) is ValueError and "class(es) ['Bright'] have no training images" in str(e) and 'case-sensitive' in str(e)

@pytest.mark.parametrize('case', ['missing_file', 'unknown_label', 'empty_cell', 'unknown_split', 'duplicate_row', 'wrong_column'])
def test_csv_rows(case, ds, tmp_path):
    rows = pd.DataFrame(dict(path=['train/dim/0.png', 'train/bright/0.png', 'val/dim/0.png', 'val/bright/0.png'],
                             label=['dim', 'bright', 'dim', 'bright'], split=['train', 'train', 'val', 'val']))
    if case == 'missing_file': rows.loc[1, 'path'] = 'train/bright/nope.png'
    if case == 'unknown_label': rows.loc[2, 'label'] = 'dimm'
    if case == 'empty_cell': rows.loc[2, 'label'] = ''
    if case == 'unknown_split': rows.loc[3, 'split'] = 'holdout'
    if case == 'duplicate_row': rows = pd.concat([rows, rows.iloc[[0]]])
    rows.to_csv(tmp_path/'labels.csv', index=False)
    kw = dict(root=ds, classes=['dim', 'bright']) if case == 'unknown_label' else dict(root=ds)
    if case == 'wrong_column': kw['label_col'] = 'grade'
    e = error_of(lambda: csv_items(tmp_path/'labels.csv', **kw))
    assert type(e) is ValueError
    says = {'missing_file': ['labels.csv names 1 file(s) that do not exist', 'train/bright/nope.png', 'fix the paths or remove the rows'],
            'unknown_label': ["labels.csv has label(s) ['dimm'] that are not among classes ['dim', 'bright']"],
            'empty_cell': ["labels.csv row 4 has label '', a missing value", 'remove those rows or give them a label'],
            'unknown_split': ["labels.csv has unknown split name(s) ['holdout']; use ('train', 'valid', 'test')"],
            'duplicate_row': ["labels.csv lists 'train/dim/0.png' more than once"],
            'wrong_column': ["labels.csv has no column 'grade'", '(set path_col/label_col)']}[case]
    for s in says: assert s in str(e), f"{s!r} not in {e}"

def test_labels_outside_given_classes_refused_by_dls(ds):
    e = error_of(lambda: fpt_dls(folder_items(ds), DATA, classes=['dim'], device='cpu'))
    assert "labels ['bright'] are not among classes ['dim']" in str(e)

# =====================================================================================================================
# Labels vs the model's head

@pytest.fixture(scope='module')
def dls2(ds): return fpt_dls(folder_items(ds), DATA, bs=4, device='cpu', seed=0)

@pytest.fixture(scope='module')
def dls3(tmp_path_factory):
    return fpt_dls(folder_items(write_dataset(tmp_path_factory.mktemp('ds3')/'ds', classes=('a', 'b', 'c'))), DATA, bs=4, device='cpu', seed=0)

def test_head_size_must_match_labels(dls2):
    e = error_of(lambda: learner(dls2, n_out=5))
    assert type(e) is ValueError and "n_out=5 does not match the 2 classes of the DataLoaders (['bright', 'dim'])" in str(e)

def test_trainable_weights_of_another_head_refused(dls2, dls3, tmp_path):
    f = learner(dls3).save_trainable(tmp_path/'three_classes')
    e = error_of(lambda: learner(dls2).load_trainable(f))
    assert type(e) is ValueError and 'three_classes.safetensors' in str(e) and "the model's is (2, 8)" in str(e)

def test_dls_with_more_classes_than_the_head_refused_clearly(dls2, dls3):
    learn = learner(dls2)
    learn.dls = dls3
    with pytest.raises(ValueError, match='classes'): quiet_fit(learn)

# =====================================================================================================================
# NaN and Inf in features and in training

def test_nan_features_refused_at_store_write(ds, tmp_path):
    "An LPM that yields NaN: preload refuses to store it, names the items, and leaves a consistent (empty) store"
    model = build_fpt(ARCH, 2, FPTConfig(lpm_size=64, side_size=32), **TINY)
    with torch.no_grad(): model.backbone.model.blocks[0].norm1.weight[0] = float('nan')
    items = folder_items(ds)
    e = error_of(lambda: preload(model.backbone, items, DATA, root=tmp_path, bs=4, device='cpu', progress=False))
    assert type(e) is StoreError and 'contain NaN or Inf' in str(e) and items.key[0] in str(e) and 'refusing to store them' in str(e)
    assert len(FeatureStore(next(tmp_path.iterdir()))) == 0

def test_nan_loss_stops_training_clearly(dls2):
    learn = learner(dls2)
    with torch.no_grad(): next(learn.model.side.parameters()).fill_(float('nan'))
    with pytest.raises(Exception, match=r'(?i)loss.*(nan|not finite)'): quiet_fit(learn)

# =====================================================================================================================
# Stores from another backbone or configuration

@pytest.fixture(scope='module')
def made(ds, tmp_path_factory):
    "A store preloaded by one tiny LPM, and a twin LPM of the same shapes with other weights"
    root = tmp_path_factory.mktemp('feat')
    torch.manual_seed(0); model = build_fpt(ARCH, 2, FPTConfig(lpm_size=64, side_size=32), **TINY)
    torch.manual_seed(1); twin = build_fpt(ARCH, 2, FPTConfig(lpm_size=64, side_size=32), **TINY)
    items = folder_items(ds)
    store = preload(model.backbone, items, DATA, root=root, device='cpu', progress=False)
    return dict(root=root, model=model, twin=twin, store=store, items=items)

def test_store_of_other_config_is_refused_when_opened(made):
    st = made['store']
    for field, value in (('token_ratio', 0.5), ('lpm_size', 96), ('arch', 'vit_small_patch16_224'), ('layers', [1])):
        e = error_of(lambda: FeatureStore(st.path, {**st.fingerprint, field: value}))
        assert type(e) is StoreError and f"{field}: store has {st.fingerprint[field]!r}, wanted {value!r}" in str(e)

def test_other_backbone_or_config_preloads_elsewhere(made):
    bb = made['model'].backbone
    bb.token_ratio = 0.5
    try: other = preload(bb, made['items'], DATA, root=made['root'], device='cpu', progress=False)
    finally: bb.token_ratio = 0.2
    assert other.path != made['store'].path and other.item_shape != made['store'].item_shape
    twin = preload(made['twin'].backbone, made['items'], DATA, root=made['root'], device='cpu', progress=False)
    assert twin.path != made['store'].path  # same shapes, other weights: another store

def test_store_of_other_backbone_refused_for_a_model(made, dls2):
    e = error_of(lambda: check_store(made['store'], made['twin'].backbone, DATA))
    assert type(e) is StoreError and 'weights: store has' in str(e) and 'preload again with this model' in str(e)
    e = error_of(lambda: preloaded_dls(dls2, made['store'], backbone=made['twin'].backbone))
    assert 'was made by another LPM' in str(e)
    assert len(preloaded_dls(dls2, made['store'], backbone=made['model'].backbone).train_ds) == 8
    e = error_of(lambda: preloaded_dls(fpt_dls(made['items'], FPTData(64, 32, mean=(0.4,) * 3), device='cpu'), made['store']))
    assert 'was made for other data (mean: store [0.5, 0.5, 0.5], data [0.4, 0.4, 0.4])' in str(e)

def test_store_of_older_format_refused(made, tmp_path):
    old = Path(shutil.copytree(made['store'].path, tmp_path/'old'))
    m = json.loads((old/'manifest.json').read_text()); m['format'] = 2  # format 2 records were keyed by path: never read
    (old/'manifest.json').write_text(json.dumps(m))
    e = error_of(lambda: FeatureStore(old))
    assert f"has store format 2, this kit reads {FORMAT_VERSION} or 3; preload again into a new folder" in str(e)

def test_store_laid_out_as_format_3_reads_the_same(tmp_path):
    "A float16 store as kits of format 3 laid it out (manifest, one journal line per record with its CRC-32, raw shards), built by hand, reads back exactly and takes appends with CRC-32"
    from fpt_kit.store import fingerprint_hash
    shape, fp, rng = (2, 3, 4, 5), dict(arch='hand-made'), np.random.default_rng(0)
    recs = {f"key{i}": rng.standard_normal((2, *shape)).astype(np.float16) for i in range(5)}
    rb = recs['key0'].nbytes
    root = tmp_path/'v3'; root.mkdir()
    (root/'manifest.json').write_text(json.dumps(dict(format=3, fingerprint=fp, fingerprint_hash=fingerprint_hash(fp), item_shape=list(shape),
                                                      dtype='float16', record_bytes=rb, shard_records=3)))
    lines = []
    for j, (key, r) in enumerate(recs.items()):
        with open(root/f"r000-{j // 3:05d}.bin", 'ab') as f: f.write(r.tobytes())
        lines.append(json.dumps(dict(k=key, s=j // 3, i=j % 3, c=zlib.crc32(r.tobytes(), zlib.crc32(key.encode())))))
    (root/'journal-r000.jsonl').write_text('\n'.join(lines) + '\n')
    st = FeatureStore(root, fp).verify()
    assert st.keys() == list(recs)
    for key, r in recs.items():
        k, v = st[key]
        assert k.dtype == torch.float16 and np.array_equal(k.numpy(), r[0]) and np.array_equal(v.numpy(), r[1])
    with st.writer() as w: assert w.write(['key5'], torch.ones(2, 1, 3, 4, 5), torch.zeros(2, 1, 3, 4, 5)) == 1  # appends in the same layout
    assert (root/'r000-00001.bin').stat().st_size == 3 * rb and (root/'journal-r000.jsonl').read_text().count('\n') == 6
    last = json.loads((root/'journal-r000.jsonl').read_text().splitlines()[-1])
    raw = (root/'r000-00001.bin').read_bytes()[2 * rb:]
    assert last['c'] == zlib.crc32(raw, zlib.crc32(b'key5'))  # the store's own checksum, not the new stores' XXH3
    assert FeatureStore(root, fp).verify().manifest['format'] == 3 and torch.equal(FeatureStore(root)['key5'][0], torch.ones(2, 3, 4, 5).half())
    m = json.loads((root/'manifest.json').read_text()); m.update(dtype='int8')
    (root/'manifest.json').write_text(json.dumps(m))  # an int8 manifest in format 3 is never read as float16 bytes
    assert 'has store format 3, this kit reads 7 or 6 or 4 for int8 stores' in str(error_of(lambda: FeatureStore(root)))

def test_learner_refuses_store_of_another_backbone(made, dls2):
    pdls = preloaded_dls(dls2, made['store'])
    torch.manual_seed(1)
    with pytest.raises(StoreError, match='made by another LPM'):
        quiet_fit(learner(pdls))

# =====================================================================================================================
# Preloading under faults: the fault-injection script, a few trials

def test_fault_injection_few_trials(tmp_path):
    out = tmp_path/'faults.json'
    r = subprocess.run(offline([sys.executable, str(ROOT/'tests'/'fault_injection.py'), '--trials', '3', '--json', str(out)]),
                       capture_output=True, text=True, timeout=300, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    assert out.exists(), r.stdout + r.stderr
    S = json.loads(out.read_text())
    assert r.returncode == 0 and S['ok'], r.stdout + r.stderr
    assert S['kill_trials'] == 3 and S['kills'] >= 3 and S['concurrent_trials'] == 3
    assert S['batch_kill_trials'] == 3 and S['batch_kill_trials_threaded'] == 1 and S['batch_kill_trials_int8'] == 1 and S['batch_kills'] >= 1  # batched (threaded, int8) writers killed
    assert S['lost'] == 0 and S['wrong'] == 0 and S['corruptions_served'] == 0 and not S['errors']
    for k in ('shard_truncate', 'shard_bitflip'): assert S[f'{k}_detected'] == S[f'{k}_injected'] == 3
    assert S['shard_bitflip_detected_on_read'] == 3
    assert S['concurrent_refused'] + S['concurrent_coordinated'] == 3
    assert S['fsize']['clear_error'] and S['fsize']['consistent'] and S['fsize']['resumed']
    assert isinstance(S['tmpfs'], str) and S['tmpfs'].startswith('skipped') or all(S['tmpfs'][k] for k in ('clear_error', 'consistent', 'resumed'))

# =====================================================================================================================
# Safe loading: no pickle, no code execution; docs say where fastai's pickle is used

def test_package_loads_nothing_with_pickle():
    "Every torch.load in the package passes weights_only=True; nothing unpickles (pickle.load(s), np.load allow_pickle)"
    src = {p: p.read_text() for p in (ROOT/'fpt_kit').rglob('*.py') if p.name != '_modidx.py'}
    for p, s in src.items():
        for call in re.findall(r'torch\.load\([^)]*\)', s): assert 'weights_only=True' in call, f"{p}: {call}"
        assert not re.search(r'\bpickle\.loads?\(|\bUnpickler\(|allow_pickle\s*=\s*True', s), p

def test_store_and_trainable_weights_load_without_pickle(made, dls2, tmp_path, monkeypatch):
    learn = learner(dls2)
    f = learn.save_trainable(tmp_path/'w')
    header = struct.unpack('<Q', f.read_bytes()[:8])[0]
    assert f.read_bytes()[8:9] == b'{' and header < f.stat().st_size  # safetensors: a JSON header, then raw tensors
    json.loads(f.with_suffix('.json').read_text())
    def refuse(*a, **k): raise AssertionError('something tried to unpickle')
    for mod, name in ((pickle, 'load'), (pickle, 'loads'), (torch, 'load')): monkeypatch.setattr(mod, name, refuse)
    st = FeatureStore(made['store'].path)  # manifest and journals are JSON, shards raw
    assert all(st[k][0].shape == st.item_shape for k in st.keys())
    learner(dls2).load_trainable(f)
    assert all(json.loads(l) for l in (st.path/'journal-r000.jsonl').read_text().splitlines())

def test_malicious_weights_file_does_not_run(tmp_path):
    "A .pth whose pickle would run a command: loading it as LPM weights is refused, and the command never runs"
    marker = tmp_path/'pwned'
    class Payload:
        def __reduce__(self): return (os.system, (f"touch {marker}",))
    torch.save({'pos_embed': Payload()}, tmp_path/'evil.pth')
    e = error_of(lambda: build_fpt(ARCH, 2, FPTConfig(lpm_size=64, side_size=32), weights=tmp_path/'evil.pth', **TINY))
    assert 'weights_only' in str(e) and not marker.exists()

def test_fastai_pickle_export_is_documented():
    nb = json.loads((ROOT/'nbs'/'09_learner.ipynb').read_text())
    text = ' '.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown').replace('\n', ' ')
    assert "fastai's export and `load_learner` use Python's pickle, which can execute code when loading: load only files you trust" in text
    assert '`save_trainable`/`load_trainable` are the safe alternative' in text

# =====================================================================================================================
# The suite stays offline

def test_no_network_from_tests():
    assert os.environ.get('HF_HUB_OFFLINE') == '1'
    for addr in (('93.184.216.34', 80),) + ((('2606:2800:220:1:248:1893:25c8:1946', 443),) if socket.has_ipv6 else ()):
        fam = socket.AF_INET6 if ':' in addr[0] else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            with pytest.raises(RuntimeError, match='tests must run offline'): s.connect(addr)
    with pytest.raises(RuntimeError, match='tests must run offline'): socket.create_connection(('93.184.216.34', 80), timeout=1)
    with socket.socket() as srv:  # this machine stays reachable
        srv.bind(('127.0.0.1', 0)); srv.listen(1)
        with socket.create_connection(srv.getsockname(), timeout=5): pass

def test_no_network_through_connect_ex():
    with socket.socket() as s:
        s.settimeout(0.2)
        with pytest.raises(RuntimeError, match='tests must run offline'): s.connect_ex(('192.0.2.1', 80))  # TEST-NET-1, reserved

def test_subprocesses_of_this_file_have_no_network():
    "The subprocesses above run in a network namespace of their own where the machine allows it (root)"
    cmd = offline([sys.executable, '-c', "import socket; s = socket.socket(); s.settimeout(0.5); print(s.connect_ex(('192.0.2.1', 80)))"])
    if cmd[0] != 'unshare': pytest.skip('unshare -n is not available here (needs root): subprocesses are not isolated')
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and int(r.stdout) != 0, r  # ENETUNREACH: there is no route at all
