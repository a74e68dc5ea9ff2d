"""The trust issue's scenarios as figures, for whichever kit is importable (compare two checkouts with PYTHONPATH):

    PYTHONPATH=. python tests/trust_scenarios.py

1. stale features: preload 24 real fundus crops (skimage's retina), edit two in place, preload again; then another
   dataset with the same file names. Prints the times and the largest difference between a stored key and the key
   the LPM computes on the image as it is now (0.001 = fp16 rounding; several units = features of another image).
2. a CT slice (pydicom's CT_small.dcm) as DICOM, 16-bit PNG and 16-bit TIFF: grey levels of the views that fpt_dls
   builds from it (the training path)."""
import os, shutil, tempfile, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, pydicom, tifffile, torch
from PIL import Image
from pydicom.data import get_testdata_file
from skimage import data as skd
warnings.simplefilter('ignore')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import fpt_kit
from fpt_kit import folder_items, fpt_dls, fpt_learner, FPTData
from fpt_kit.models.lpm import shipped_lpm

def _fundus_dataset(root:Path, seed:int, retina:np.ndarray)->Path:
    r = np.random.default_rng(seed)
    for s, n in (('train', 6), ('val', 3), ('test', 3)):
        for c in ('healthy', 'lesion'):
            for i in range(n):
                y, x = r.integers(0, retina.shape[0] - 700, 2)
                a = retina[y:y + 700, x:x + 700].astype(float) * r.uniform(0.7, 1.2)
                if c == 'lesion': a[r.integers(100, 600), :, :] *= 0.3
                p = root/s/c/f"{i:03d}.png"; p.parent.mkdir(parents=True, exist_ok=True); Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(p)
    return root

def _learner(root:Path):
    dls = fpt_dls(folder_items(root), FPTData(256, 64, mean=(0.5,) * 3, std=(0.25,) * 3), bs=4, device='cpu')
    return fpt_learner(dls, **shipped_lpm().learner_kwargs())

def _stored_key_error(learn, store, path:Path)->float:
    "max |stored K - K the LPM computes on the image as it is now|"
    allit = pd.concat([learn.online_dls.items, learn.online_dls.test_items], ignore_index=True)
    row = allit[allit.path == str(path)].reset_index(drop=True)
    _, xl, _ = learn.online_dls.test_dl(row, with_labels=True).one_batch()
    with torch.no_grad(): k, _ = learn.model.backbone.eval()(xl)
    from fpt_kit.data import core
    stored = store[core.file_hash(path)][0] if hasattr(core, 'file_hash') else store[row.key[0]][0]  # older kits file records by path
    return float((stored.float() - k[:, 0].float()).abs().max())

def stale_features(tmp:Path):
    retina = skd.retina()
    ds = _fundus_dataset(tmp/'ds', 0, retina)
    learn = _learner(ds)
    t = time.time(); learn.preload(progress=False); first = time.time() - t
    edited = [ds/'val'/'lesion'/'000.png', ds/'test'/'healthy'/'001.png']
    for j, p in enumerate(edited): Image.fromarray(np.clip(retina[:700, 700:1400].astype(float) * (0.5 + 0.2 * j), 0, 255).astype(np.uint8)).save(p)
    learn2 = _learner(ds)
    t = time.time(); store2 = learn2.preload(progress=False); again = time.time() - t
    err = [_stored_key_error(learn2, store2, p) for p in edited]
    other = _fundus_dataset(tmp/'other', 1, retina)
    learn3 = _learner(other)
    t = time.time(); store3 = learn3.preload(progress=False); t_other = time.time() - t
    err3 = _stored_key_error(learn3, store3, other/'train'/'healthy'/'000.png')
    print(f"first preload of 24 images: {first:.1f} s")
    print(f"after editing 2 images in place: {again:.1f} s; max |stored K - fresh K| of the edited images: {[round(e, 3) for e in err]}")
    print(f"another dataset with the same file names: {t_other:.1f} s; max |stored K - fresh K|: {err3:.3f}")
    for name, st in (('edited', store2), ('other dataset', store3)): print(f"  report ({name}): {getattr(st, 'report', 'none (this kit reports nothing)')}")

def ct_grey_levels(tmp:Path):
    ct = get_testdata_file('CT_small.dcm'); px = pydicom.dcmread(ct).pixel_array.astype(np.uint16)
    for fmt in ('dcm', 'png', 'tif'):
        for s, n in (('train', 2), ('val', 1)):
            for c in ('a', 'b'):
                for i in range(n):
                    p = tmp/fmt/s/c/f"{i}.{fmt}"; p.parent.mkdir(parents=True, exist_ok=True)
                    if fmt == 'dcm': shutil.copy(ct, p)
                    elif fmt == 'png': Image.fromarray(px).save(p)
                    else: tifffile.imwrite(p, px)
        side, lpm, _ = fpt_dls(folder_items(tmp/fmt), FPTData(256, 64), bs=2, device='cpu').train_ds[0]
        print(f"CT slice as {fmt}: {len(np.unique(np.asarray(lpm)))} grey levels in the LPM view, {len(np.unique(np.asarray(side)))} in the side view (as read, before resizing)")

if __name__ == '__main__':
    print(f"kit: {Path(fpt_kit.__file__).parent}")
    with tempfile.TemporaryDirectory() as d:
        os.environ['FPT_KIT_CACHE'] = str(Path(d)/'cache')
        stale_features(Path(d))
        ct_grey_levels(Path(d))
