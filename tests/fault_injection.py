#!/usr/bin/env python
"""Fault injection for preloading: what `preload` and `FeatureStore` do when things go wrong, counted.

    python tests/fault_injection.py --trials 20 [--seed 0] [--kills 3] [--json summary.json]

On a small synthetic dataset and a tiny randomly initialised LPM (nothing is downloaded), it runs:

- kill trials: preloading in a forked process is killed with SIGKILL at random points (during start-up, or a random
  fraction of an item after a random number of items is stored), several times, then resumed to completion; after
  every kill the store must open (every checksum verified) and hold only correct items, and the final store must equal an
  uninterrupted reference run item by item (keys, K bytes, V bytes);
- batch kill trials: a writer appending synthetic records (a function of their key) in batches of random size, big
  batches split among threads in half of them, is killed at random points; every batch whose `write` had returned
  (acknowledged) must be in the store after the kill (a kill loses at most the batch in flight), every item read back
  must be its own, and the resumed store must hold every item;
- concurrent trials: two preloaders started together on one store; the second must be refused with a clear error, or
  find nothing left to do, and the final store must equal the reference;
- corruption trials: copies of the reference store with a truncated shard, a flipped bit in a shard, in a journal and
  in the manifest; each must be detected when the store is opened (or read), never served;
- full disk: preloading under a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored, so writes fail with EFBIG) and on a
  small tmpfs when one can be mounted (root); the error must be clear, the store must reopen consistent, and
  preloading must resume to completion once there is room.

It prints a summary table and exits 1 when an item is lost or wrong, a corruption goes undetected, or an error is
unclear. Children are forked from this process after the imports, so each costs milliseconds, not an import; torch
runs single-threaded (forking after OpenMP threads exist is unsafe).
"""
import os
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ['HF_HUB_OFFLINE'] = '1'
import argparse, itertools, json, random, resource, shutil, signal, subprocess, sys, tempfile, time, traceback, warnings
from pathlib import Path
import numpy as np
from PIL import Image
import torch
torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fpt_kit.core import seeded
from fpt_kit.data.core import FPTData, folder_items
from fpt_kit.models.fpt import FPTConfig, build_fpt
from fpt_kit.preload import preload, feature_fingerprint, feature_shape
from fpt_kit.store import FeatureStore, StoreError, fingerprint_hash

# ---------------------------------------------------------------------------------------------------------------------
# Children: forked preloaders whose outcome comes back through a small JSON file

_ids = itertools.count()

class Child:
    "A forked process running `fn`; exit code 0 = done, 3 = StoreError (message kept), 1 = anything else (traceback kept)"
    def __init__(self, work:Path, fn):
        self.out, self.code, self.msg = work/f"child-{next(_ids)}.json", None, ''
        self.pid = os.fork()
        if self.pid == 0:  # the child
            code, msg = 0, ''
            try: fn()
            except StoreError as e: code, msg = 3, str(e)
            except BaseException: code, msg = 1, traceback.format_exc()
            try: self.out.write_text(json.dumps(dict(code=code, msg=msg)))
            finally: os._exit(code)

    def _reap(self, status):
        self.code = os.waitstatus_to_exitcode(status)
        if self.out.exists():
            try: self.msg = json.loads(self.out.read_text())['msg']
            except ValueError: self.msg = ''  # killed while it wrote its result: only its exit status counts
            self.out.unlink()

    def poll(self)->bool:
        "Has the child ended?"
        if self.code is not None: return True
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid: self._reap(status)
        return self.code is not None

    def wait(self, timeout:float=120)->int:
        t = time.monotonic()
        while not self.poll():
            if time.monotonic() - t > timeout: self.kill(); raise RuntimeError(f"child {self.pid} hung for {timeout}s")
            time.sleep(0.002)
        return self.code

    def kill(self)->bool:
        "SIGKILL the child; False when it had already ended by itself"
        if self.poll(): return False
        os.kill(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        self._reap(status)
        return True

# ---------------------------------------------------------------------------------------------------------------------
# The dataset, the LPM and the reference store

class Setup:
    def __init__(self, work:Path, n_per:int=6):
        self.work = work
        rng = np.random.default_rng(0)
        for split, n in (('train', n_per), ('val', n_per // 2), ('test', n_per // 2)):
            for c in ('a', 'b'):
                for i in range(n):
                    p = work/'ds'/split/c/f"{i}.png"; p.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(p)
        self.items = folder_items(work/'ds')
        self.n = len(self.items)
        self.data = FPTData(lpm_size=64, side_size=32)
        with seeded(0):
            model = build_fpt('vit_tiny_patch16_224', 2, FPTConfig(lpm_size=64, side_size=32), embed_dim=64, depth=2, num_heads=4)
        self.backbone = model.backbone.eval()
        self.fp = feature_fingerprint(self.backbone, self.data, 'float16')
        self.shape = feature_shape(self.backbone)
        self.hash = fingerprint_hash(self.fp)

    def store_path(self, root:Path)->Path: return root/self.hash

    def preload(self, root:Path, bs:int=1):
        "What every child runs: the public `preload`, one item per batch (so every run computes each item alike)"
        preload(self.backbone, self.items, self.data, root=root, bs=bs, device='cpu', progress=False)

    def reference(self):
        t = time.perf_counter()
        c = Child(self.work, lambda: self.preload(self.work/'ref'))
        if c.wait() != 0: raise RuntimeError(f"the reference preload failed:\n{c.msg}")
        self.t_ref = time.perf_counter() - t
        self.ref = snapshot(self.store_path(self.work/'ref'), self.fp)
        assert len(self.ref) == self.n, (len(self.ref), self.n)
        # start-up time (fork, fingerprint, first batch) and time per item, for placing kills
        t = time.perf_counter()
        c = Child(self.work, lambda: self.preload(self.work/'probe'))
        jf = self.store_path(self.work/'probe')/'journal-r000.jsonl'
        while not (jf.exists() and jf.stat().st_size) and not c.poll(): time.sleep(0.0005)
        self.t_start = time.perf_counter() - t
        c.wait()
        self.t_item = max((time.perf_counter() - t - self.t_start) / self.n, 1e-4)
        shutil.rmtree(self.work/'probe')

def snapshot(path:Path, fp:dict|None=None, verify:bool=True)->dict:
    "Every item of the store at `path` as (K bytes, V bytes); opening verifies the manifest, fingerprint and every checksum"
    st = FeatureStore(path, fp, verify=verify)
    return {k: tuple(t.numpy().tobytes() for t in st[k]) for k in st.keys()}

def journaled(spath:Path)->int:
    "Items journaled so far (complete lines), read the way a second process would"
    jf = spath/'journal-r000.jsonl'
    try: return jf.read_bytes().count(b'\n')
    except FileNotFoundError: return 0

def torn_state(spath:Path)->bool:
    "Did a kill leave bytes no journal line accounts for (a partial record, a torn line, a begun shard)?"
    mf = spath/'manifest.json'
    if not mf.exists(): return False
    rb = json.loads(mf.read_text())['record_bytes']
    jf = spath/'journal-r000.jsonl'
    data = jf.read_bytes() if jf.exists() else b''
    if data and not data.endswith(b'\n'): return True
    extent = {}
    for line in data.splitlines():
        e = json.loads(line); extent[e['s']] = max(extent.get(e['s'], 0), (e['i'] + 1) * rb)
    return any(f.stat().st_size > extent.get(int(f.stem.split('-')[1]), 0) for f in spath.glob('r000-*.bin'))

def compare(ctx:Setup, got:dict)->tuple[int, int, int]:
    "Items of the reference missing from `got`, items whose bytes differ, and items that should not be there"
    lost = sum(k not in got for k in ctx.ref)
    wrong = sum(k in got and got[k] != v for k, v in ctx.ref.items())
    return lost, wrong, sum(k not in ctx.ref for k in got)

def final_check(ctx:Setup, spath:Path, S:dict, label:str):
    "Compare the finished store with the reference; a store that does not open has lost every item"
    try: lost, wrong, extra = compare(ctx, snapshot(spath, ctx.fp))
    except StoreError as e:
        S['errors'].append(f"{label}: the finished store does not open: {e}"); lost, wrong, extra = ctx.n, 0, 0
    S['lost'] += lost; S['wrong'] += wrong + extra
    return not (lost or wrong or extra)

# ---------------------------------------------------------------------------------------------------------------------
# Trials

def kill_trial(ctx:Setup, trial:int, rng:random.Random, n_kills:int, S:dict):
    root = ctx.work/f"kill{trial}"
    spath = ctx.store_path(root)
    if rng.random() < 0.5:  # small shards, so that kills also land around a shard rollover
        rb = 2 * int(np.prod(ctx.shape)) * 2
        FeatureStore.at(root, ctx.fp, ctx.shape, shard_mb=rb * rng.randint(2, 5) / 2**20)
    for _ in range(n_kills):
        done = journaled(spath)
        if done >= ctx.n: break
        c = Child(ctx.work, lambda: ctx.preload(root))
        if rng.random() < 0.2 or done >= ctx.n - 1:
            where = 'start_up'; time.sleep(rng.uniform(0, ctx.t_start))
        else:
            target = rng.randint(done + 1, ctx.n - 1)
            while journaled(spath) < target and not c.poll(): time.sleep(0.0003)
            time.sleep(rng.uniform(0, ctx.t_item))
            where = 'items'
        if not c.kill():
            S['ended_before_kill'] += 1
            if c.code != 0: S['errors'].append(f"kill trial {trial}: preload failed by itself:\n{c.msg}")
            break
        S['kills'] += 1; S[f'kills_{where}'] += 1
        S['torn_after_kill'] += torn_state(spath)
        if (spath/'manifest.json').exists():  # what a reader sees right after the kill: consistent, and only correct items
            try:
                lost, wrong, extra = compare(ctx, snapshot(spath, ctx.fp))
                S['wrong'] += wrong + extra
            except StoreError as e: S['errors'].append(f"kill trial {trial}: the store did not open after a kill: {e}")
    c = Child(ctx.work, lambda: ctx.preload(root))
    if c.wait() != 0: S['errors'].append(f"kill trial {trial}: the resumed preload failed:\n{c.msg}")
    S['resumes'] += 1; S['kill_trials'] += 1
    final_check(ctx, spath, S, f"kill trial {trial}")
    shutil.rmtree(root)

def _record(key:str, shape)->tuple:
    "Synthetic K and V (L, 1, H, k, dh) that are a function of `key` alone"
    g = torch.Generator().manual_seed(int(fingerprint_hash(dict(k=key)), 16) % 2**62)
    return tuple(torch.randn(shape[0], 1, *shape[1:], generator=g) for _ in range(2))

def batch_kill_trial(ctx:Setup, trial:int, rng:random.Random, S:dict, n:int=40):
    "Kill a batched writer at random; acknowledged batches must survive, and only correct items be served (every third trial: an int8 store)"
    import fpt_kit.store as fs
    from fpt_kit.models.fusion import quantize_kv
    root, shape, threads, int8 = ctx.work/f"batch{trial}", (2, 2, 8, 16), trial % 2 == 1, trial % 3 == 2
    spath, keys, ack = root/'store', [f"item{j}" for j in range(n)], root/'acked'
    root.mkdir()
    FeatureStore(spath, dict(trial=trial), shape, dtype='int8' if int8 else 'float16',
                 shard_mb=rng.choice([1024, 3 * 2048 / 2**20]))  # float16 records of 2048 bytes (int8: 1024): one shard, or three (six) records a shard
    as_stored = quantize_kv if int8 else torch.Tensor.half
    expect = {k: tuple(as_stored(t[:, 0]).numpy().tobytes() for t in _record(k, shape)) for k in keys}
    def write():
        if threads: fs._CHUNK_BYTES = 1  # a piece per record: written by the thread while the next is checked
        st = FeatureStore(spath)
        with st.writer() as w, open(ack, 'a') as f:
            todo = [k for k in keys if k not in st]
            while todo:
                b = todo[:rng.randint(1, 7)]; todo = todo[len(b):]
                kv = [_record(k, shape) for k in b]
                w.write(b, torch.cat([a for a, _ in kv], 1), torch.cat([v for _, v in kv], 1))
                f.write(''.join(k + '\n' for k in b)); f.flush()
    for _ in range(3):
        acked = lambda: len(set(ack.read_text().split())) if ack.exists() else 0
        if acked() >= n: break
        target, c, t0 = rng.randint(acked(), n - 1), Child(ctx.work, write), time.monotonic()
        while not c.poll() and acked() < target and time.monotonic() - t0 < 30:
            time.sleep(0.0005)  # the writer is fast: kill it once it has acknowledged a random number of items, then a moment later, mid-batch
        time.sleep(rng.uniform(0, 0.003))
        if not c.kill():
            if c.code != 0: S['errors'].append(f"batch kill trial {trial}: the writer failed by itself:\n{c.msg}")
            break
        S['batch_kills'] += 1
        acked = set(ack.read_text().split()) if ack.exists() else set()
        try:
            st = FeatureStore(spath).verify()
            S['lost'] += sum(k not in st for k in acked)
            S['wrong'] += sum(tuple(t.numpy().tobytes() for t in st[k]) != expect.get(k) for k in st.keys())
            S['batch_acked'] += len(acked)
        except StoreError as e: S['errors'].append(f"batch kill trial {trial}: the store did not open after a kill: {e}")
    c = Child(ctx.work, write)
    if c.wait() != 0: S['errors'].append(f"batch kill trial {trial}: the resumed writer failed:\n{c.msg}")
    st = FeatureStore(spath).verify()
    S['lost'] += sum(k not in st for k in keys)
    S['wrong'] += sum(tuple(t.numpy().tobytes() for t in st[k]) != expect.get(k) for k in st.keys())
    S['batch_kill_trials'] += 1; S['batch_kill_trials_threaded'] += threads; S['batch_kill_trials_int8'] += int8
    shutil.rmtree(root)

def concurrent_trial(ctx:Setup, trial:int, S:dict):
    root = ctx.work/f"conc{trial}"
    a, b = Child(ctx.work, lambda: ctx.preload(root)), Child(ctx.work, lambda: ctx.preload(root))
    codes = sorted([a.wait(), b.wait()])
    msgs = [x.msg for x in (a, b) if x.code == 3]
    if codes == [0, 3] and 'is being written by pid' in msgs[0] and 'wait for it to finish' in msgs[0]: S['concurrent_refused'] += 1
    elif codes == [0, 0]: S['concurrent_coordinated'] += 1
    else: S['errors'].append(f"concurrent trial {trial}: exit codes {codes}: {[a.msg, b.msg]}")
    S['concurrent_trials'] += 1
    final_check(ctx, ctx.store_path(root), S, f"concurrent trial {trial}")
    shutil.rmtree(root)

def _flip(f:Path, rng:random.Random, lo:int=0):
    b = bytearray(f.read_bytes()); at = rng.randrange(lo, len(b)); b[at] ^= 1 << rng.randrange(8); f.write_bytes(b)

def corruption_trial(ctx:Setup, trial:int, rng:random.Random, S:dict):
    src = ctx.store_path(ctx.work/'ref')
    for kind in ('shard_truncate', 'shard_bitflip', 'journal_bitflip', 'manifest_bitflip'):
        d = Path(shutil.copytree(src, ctx.work/f"corrupt{trial}-{kind}"))
        shard = rng.choice(sorted(d.glob('r*.bin')))
        if kind == 'shard_truncate': os.truncate(shard, rng.randrange(shard.stat().st_size))
        elif kind == 'shard_bitflip': _flip(shard, rng)
        elif kind == 'journal_bitflip': _flip(d/'journal-r000.jsonl', rng)
        else: _flip(d/'manifest.json', rng)
        S[f'{kind}_injected'] += 1
        try:  # opened the way preload and check_store open it: the fingerprint is checked, every checksum verified
            got = snapshot(d, ctx.fp)
            FeatureStore(d, ctx.fp).check_complete(ctx.ref)
            lost, wrong, extra = compare(ctx, got)
            if wrong or extra: S['corruptions_served'] += 1; S['errors'].append(f"{kind} (trial {trial}) was served")
            else: S[f'{kind}_harmless'] += 1  # e.g. a flip in a field that only guides writing
        except StoreError as e: S[f'{kind}_detected'] += 1; S[f'{kind}_as_missing'] += 'misses' in str(e)  # a torn last line drops an item, which preload redoes
        except Exception as e: S['errors'].append(f"{kind} (trial {trial}) raised an unclear {type(e).__name__}: {e}")
        if kind == 'shard_bitflip':  # opened without verification, the damaged record is still refused when read
            try: snapshot(d, ctx.fp, verify=False); S['errors'].append(f"shard bit flip (trial {trial}) was read back unverified")
            except StoreError: S['shard_bitflip_detected_on_read'] += 1
        shutil.rmtree(d)

def fsize_trial(ctx:Setup, rng:random.Random, S:dict):
    "A file-size limit: the shard write of item `keep` fails part-way with EFBIG"
    root = ctx.work/'fsize'
    st = FeatureStore.at(root, ctx.fp, ctx.shape)  # one shard
    keep = rng.randint(ctx.n // 4, 3 * ctx.n // 4)
    limit = keep * st.record_bytes + rng.randint(1, st.record_bytes - 1)
    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so that writes beyond the limit fail with EFBIG instead of killing
        ctx.preload(root)
    _full_disk(ctx, 'fsize', root, limited, 'File too large (a file-size limit was reached)', keep, S)

def tmpfs_trial(ctx:Setup, S:dict):
    "A small tmpfs that fills up half-way (needs root and mount); skipped with the reason otherwise"
    mnt = ctx.work/'tmpfs'; mnt.mkdir()
    rb = 2 * int(np.prod(ctx.shape)) * 2
    pages = 3 + -(-(ctx.n // 2) * rb // 4096)  # manifest, lock, journal, and room for about half the records
    try: subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={pages * 4096}', 'tmpfs', str(mnt)], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        S['tmpfs'] = f"skipped: cannot mount a tmpfs here ({getattr(e, 'stderr', '') or e})".strip(); return
    try:
        def remount(): subprocess.run(['mount', '-o', 'remount,size=16m', str(mnt)], check=True, capture_output=True)
        _full_disk(ctx, 'tmpfs', mnt, lambda: ctx.preload(mnt), 'No space left on device (the disk is full)', None, S, remount)
    finally: subprocess.run(['umount', str(mnt)], capture_output=True)

def _full_disk(ctx:Setup, name:str, root:Path, fn, expect:str, keep:int|None, S:dict, make_room=None):
    spath = ctx.store_path(root)
    c = Child(ctx.work, fn)
    code = c.wait()
    res = dict(exit_code=code, message=c.msg)
    clear = code == 3 and expect in c.msg and 'run preload again' in c.msg
    try:
        got = snapshot(spath, ctx.fp)  # reopens consistent: every checksum verified
        lost, wrong, extra = compare(ctx, got)
        res['kept_items'] = len(got)
        consistent = not (wrong or extra) and (keep is None or len(got) == keep) and not torn_state(spath)
    except StoreError as e: consistent, res['reopen_error'] = False, str(e)
    if make_room: make_room()
    r = Child(ctx.work, lambda: ctx.preload(root))
    resumed = r.wait() == 0
    S['resumes'] += 1
    res.update(clear_error=clear, consistent=consistent, resumed=final_check(ctx, spath, S, f"full disk ({name})") and resumed)
    if not (clear and consistent and res['resumed']): S['errors'].append(f"full disk ({name}): {res}\n{r.msg}")
    S[name] = res
    shutil.rmtree(spath)

# ---------------------------------------------------------------------------------------------------------------------

def run(trials:int=20, seed:int=0, kills:int=3, work:Path|None=None)->dict:
    own = work is None
    work = Path(tempfile.mkdtemp(prefix='fpt_fault_')) if own else Path(work)
    S = dict(trials=trials, seed=seed, items=0, kill_trials=0, kills=0, kills_start_up=0, kills_items=0, ended_before_kill=0,
             torn_after_kill=0, resumes=0, batch_kill_trials=0, batch_kill_trials_threaded=0, batch_kill_trials_int8=0, batch_kills=0, batch_acked=0, concurrent_trials=0, concurrent_refused=0, concurrent_coordinated=0,
             corruptions_served=0, lost=0, wrong=0, errors=[])
    for k in ('shard_truncate', 'shard_bitflip', 'journal_bitflip', 'manifest_bitflip'): S.update({f'{k}_injected': 0, f'{k}_detected': 0, f'{k}_harmless': 0, f'{k}_as_missing': 0})
    S['shard_bitflip_detected_on_read'] = 0
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            ctx = Setup(work)
            ctx.reference()
        S.update(items=ctx.n, record_bytes=2 * int(np.prod(ctx.shape)) * 2, t_reference_s=round(ctx.t_ref, 3),
                 t_start_s=round(ctx.t_start, 3), t_item_ms=round(1000 * ctx.t_item, 2))
        rng = random.Random(seed)
        for t in range(trials):
            kill_trial(ctx, t, rng, kills, S)
            batch_kill_trial(ctx, t, rng, S)
            concurrent_trial(ctx, t, S)
            corruption_trial(ctx, t, rng, S)
        fsize_trial(ctx, rng, S)
        tmpfs_trial(ctx, S)
    finally:
        if own: shutil.rmtree(work, ignore_errors=True)
    S['seconds'] = round(time.perf_counter() - t0, 1)
    inj = sum(S[f'{k}_injected'] for k in ('shard_truncate', 'shard_bitflip', 'journal_bitflip', 'manifest_bitflip'))
    det = sum(S[f'{k}_detected'] for k in ('shard_truncate', 'shard_bitflip', 'journal_bitflip', 'manifest_bitflip'))
    S.update(corruptions_injected=inj, corruptions_detected=det,
             ok=not (S['lost'] or S['wrong'] or S['corruptions_served'] or S['errors']) and S['shard_truncate_detected'] == S['shard_truncate_injected']
                and S['shard_bitflip_detected'] == S['shard_bitflip_injected'])
    return S

def table(S:dict)->str:
    row = lambda k, v: f"  {k:<38} {v}"
    fd = lambda r: (r if isinstance(r, str) else
                    f"clear error: {r['clear_error']}, reopened consistent ({r.get('kept_items')} items kept): {r['consistent']}, resumed to completion: {r['resumed']}")
    c = lambda k: (f"{S[k + '_injected']} injected, {S[k + '_detected']} detected" + (f", {S[k + '_harmless']} harmless" if S[k + '_harmless'] else '')
                   + (f" ({S[k + '_as_missing']} as a missing item)" if S[k + '_as_missing'] else ''))
    lines = [f"fault injection on preloading: {S['items']} items of {S.get('record_bytes')} bytes, seed {S['seed']}, {S['seconds']} s",
             row('kill trials', S['kill_trials']),
             row('kills (SIGKILL)', f"{S['kills']} ({S['kills_start_up']} during start-up, {S['kills_items']} among the items; "
                                    f"{S['ended_before_kill']} runs ended before their kill)"),
             row('kills that left a torn write', S['torn_after_kill']),
             row('resumes', S['resumes']),
             row('batched writers killed', f"{S['batch_kills']} kills in {S['batch_kill_trials']} trials ({S['batch_kill_trials_threaded']} threaded, {S['batch_kill_trials_int8']} int8); "
                                           f"{S['batch_acked']} acknowledged items checked after kills"),
             row('concurrent preloaders (trials)', f"{S['concurrent_trials']}: {S['concurrent_refused']} refused clearly, "
                                                   f"{S['concurrent_coordinated']} found nothing left to do"),
             row('corruptions: shard truncated', c('shard_truncate')),
             row('corruptions: shard bit flip', c('shard_bitflip') + f" (and {S['shard_bitflip_detected_on_read']} on unverified read)"),
             row('corruptions: journal bit flip', c('journal_bitflip')),
             row('corruptions: manifest bit flip', c('manifest_bitflip')),
             row('corruptions injected / detected', f"{S['corruptions_injected']} / {S['corruptions_detected']} (served: {S['corruptions_served']})"),
             row('full disk, RLIMIT_FSIZE', fd(S.get('fsize', 'not run'))),
             row('full disk, tmpfs', fd(S.get('tmpfs', 'not run'))),
             row('items lost', S['lost']),
             row('wrong items served', S['wrong']),
             row('problems', len(S['errors'])),
             row('result', 'OK' if S['ok'] else 'FAILED')]
    return '\n'.join(lines + [f"  ! {e}" for e in S['errors'][:10]])

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--trials', type=int, default=20, help='kill, concurrency and corruption trials (default 20)')
    ap.add_argument('--kills', type=int, default=3, help='kills per kill trial before the final resume (default 3)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json', type=Path, help='also write the numbers to this JSON file')
    args = ap.parse_args()
    S = run(args.trials, args.seed, args.kills)
    print(table(S))
    if args.json: args.json.write_text(json.dumps(S, indent=1))
    sys.exit(0 if S['ok'] else 1)
