"""`fpt-kit compare`: a tiny Table 1 agrees with its trials; a SIGKILLed compare resumes to the uninterrupted table; workers sharing a
storage (a journal file, a real PostgreSQL server) do every trial exactly once."""
import contextlib, io, json, os, pwd, shutil, signal, socket, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd, pytest, torch
from safetensors.torch import save_file
from fpt_kit.core import tiny_vit
from fpt_kit.data.synth import make_synthetic
from fpt_kit.cli import main
from fpt_kit.experiments.compare import compare, summarise
from fpt_kit.experiments.study import open_storage

ARCH, TINY = 'vit_tiny_patch16_224', dict(embed_dim=64, depth=2, num_heads=4)
PG_BIN = max(Path('/usr/lib/postgresql').glob('*/bin'), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, default=Path('/usr/lib/postgresql/15/bin'))

@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    "A dozen synthetic images (one per class in validation and test), a tiny LPM, and the uninterrupted tiny compare (2 methods x 2 lrs x 2 seeds, 2 epochs) as the reference"
    root = tmp_path_factory.mktemp('compare')
    ds = make_synthetic(root/'ds', n_train=6, n_valid=3, n_test=3, size=64)
    torch.manual_seed(0); save_file(tiny_vit(**TINY).state_dict(), root/'lpm.safetensors')
    lpm = ['--arch', ARCH, '--weights', str(root/'lpm.safetensors'), '--model-kwargs', json.dumps(TINY), '--lpm-size', '64', '--side-size', '32', '--bs', '4']
    with contextlib.redirect_stdout(io.StringIO()) as said:
        ref = compare(ds, methods=['fpt', 'linear'], lrs=[1e-3, 3e-3], seeds=2, epochs=2, out=root/'ref', arch=ARCH, weights=root/'lpm.safetensors',
                      model_kwargs=TINY, lpm_size=64, side_size=32, bs=4)
    args = lambda seeds=2, epochs=2: [str(ds), '--methods', 'fpt,linear', '--lrs', '1e-3,3e-3', '--seeds', str(seeds), '--epochs', str(epochs)] + lpm
    return dict(root=root, ds=ds, args=args, ref=ref, said=said.getvalue())

def _table(out:Path)->pd.DataFrame: return pd.read_csv(out/'table.csv').drop(columns='seconds_per_trial')

def test_table_agrees_with_trials(setup):
    out, said = setup['root']/'ref', setup['said']
    trials = pd.read_csv(out/'trials.csv')
    assert len(trials) == 8 and set(trials.state) == {'COMPLETE'} and trials.trial.is_unique
    assert said.count('valid AUC') == 8 and 'best_lr' in said  # a progress line per trial, then the table
    table = pd.read_csv(out/'table.csv').set_index('method')
    for method, g in trials.groupby('method'):  # the selection, recomputed by hand: lr on mean validation AUC, then test AUC at that lr
        valid = g.groupby('lr').valid_auc.mean()
        best = valid[valid == valid.max()].index.min()
        test = g[g.lr == best].test_auc
        r = table.loc[method]
        assert (r.best_lr, r.seeds) == (best, 2)
        assert r.valid_auc_mean == pytest.approx(valid[best]) and r.test_auc_mean == pytest.approx(test.mean()) and r.test_auc_sd == pytest.approx(test.std())
        assert r.memory_source == 'fake' and r.memory_mib == pytest.approx(g.memory_mib.max())
    pd.testing.assert_frame_equal(summarise(trials), pd.read_csv(out/'table.csv'), check_dtype=False)
    assert table.learnable_pct['linear'] < table.learnable_pct['fpt']
    html = (out/'report.html').read_text()
    assert 'AUC against learning rate' in html and 'training memory' in html and '<script src="https://cdn' not in html
    run = Path(trials.run[0])  # each trial is a run folder `fpt-kit evaluate` accepts
    with contextlib.redirect_stdout(io.StringIO()) as ev: assert main(['evaluate', str(run)]) == 0
    assert json.loads(ev.getvalue())['auc'] == pytest.approx(trials.test_auc[0])

def _states(db:Path)->dict:
    "{trial state: count} read straight from the study's SQLite file (read-only, as another process may write it); RUNNING_NAMED: running with its grid point chosen"
    import sqlite3
    try:
        with contextlib.closing(sqlite3.connect(f'file:{db}?mode=ro', uri=True, timeout=5)) as c:
            st = dict(c.execute('select state, count(*) from trials group by state').fetchall())
            st['RUNNING_NAMED'] = c.execute("select count(*) from trials t where t.state = 'RUNNING' and exists "
                                            "(select 1 from trial_params p where p.trial_id = t.trial_id)").fetchone()[0]  # its trial chosen
            return st
    except sqlite3.OperationalError: return {}  # not created yet

def test_killed_compare_resumes(setup):
    out = setup['root']/'killed'
    cmd = [sys.executable, '-m', 'fpt_kit.cli', 'compare'] + setup['args']() + ['--out', str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:  # killed while a trial runs, three or more finished (a tiny trial takes about a second)
        st = _states(out/'study.db') if (out/'study.db').exists() else {}
        if st.get('COMPLETE', 0) >= 3 and st.get('RUNNING_NAMED', 0): p.send_signal(signal.SIGKILL); break
        time.sleep(0.005)
    p.wait()
    assert p.returncode == -signal.SIGKILL, f"the compare ended before it was killed: {_states(out/'study.db')}"
    assert not (out/'table.csv').exists()
    done = sorted(t.params['trial'] for t in _study_trials(None, out) if t.state.name == 'COMPLETE')
    assert 3 <= len(done) < 8, done
    before = {n: (out/'trials'/n/'weights.safetensors').stat().st_mtime_ns for n in done}
    with contextlib.redirect_stdout(io.StringIO()) as said: assert main(['compare'] + setup['args']() + ['--out', str(out)]) == 0
    redone = [line.split()[1].rstrip(':') for line in said.getvalue().splitlines() if 'valid AUC' in line]
    assert len(redone) == 8 - len(done) and not set(redone) & set(done), (redone, done)  # finished trials are not redone
    assert {n: (out/'trials'/n/'weights.safetensors').stat().st_mtime_ns for n in done} == before
    trials = pd.read_csv(out/'trials.csv')
    killed = trials[trials.state == 'FAIL']
    assert len(killed) == 1 and killed.error.iloc[0].startswith('killed: its worker (pid')  # the trial the kill interrupted, found dead
    assert (trials[trials.state == 'COMPLETE'].trial.value_counts() == 1).all() and trials[trials.state == 'COMPLETE'].trial.nunique() == 8
    pd.testing.assert_frame_equal(_table(out), _table(setup['root']/'ref'))  # the same seeds give the uninterrupted run's table

def _study_trials(storage:str, out:Path):
    import optuna
    return optuna.load_study(study_name='compare', storage=open_storage(storage, out)).get_trials()

def _check_once(trials, names:int):
    assert len(trials) == names, [(t.number, t.params, t.state) for t in trials]  # no duplicate, no retry
    assert all(t.state.name == 'COMPLETE' for t in trials) and len({t.params['trial'] for t in trials}) == names

def test_two_workers_share_a_journal(setup):
    "Two `fpt-kit compare` processes (as on two machines, each with its own --out) on one journal file: every trial once"
    journal = setup['root']/'shared.journal'
    args = setup['args'](seeds=1, epochs=1)  # 4 trials of 1 epoch
    outs = [setup['root']/f'machine{i}' for i in (0, 1)]
    ps = [subprocess.Popen([sys.executable, '-m', 'fpt_kit.cli', 'compare'] + args + ['--out', str(o), '--storage', str(journal)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for o in outs]
    logs = [p.communicate(timeout=300)[0] for p in ps]
    assert [p.returncode for p in ps] == [0, 0], logs
    _check_once(_study_trials(str(journal), outs[0]), 4)
    assert sum(log.count('valid AUC') for log in logs) == 4
    pd.testing.assert_frame_equal(pd.read_csv(outs[0]/'table.csv'), pd.read_csv(outs[1]/'table.csv'))  # both write the whole table

def _postgres_user()->str|None:
    if os.geteuid() != 0: return None
    try: return pwd.getpwnam('postgres').pw_name
    except KeyError: return None

@pytest.fixture
def postgres():
    "A PostgreSQL server of Debian's package on a free localhost port, for this test only"
    if not (PG_BIN/'initdb').exists(): pytest.skip(f"PostgreSQL is not installed ({PG_BIN}/initdb missing): apt-get install postgresql (.ci/run does)")
    pytest.importorskip('psycopg2', reason="psycopg2 is missing: pip install 'fpt-kit[postgres]'")
    user = _postgres_user()
    if os.geteuid() == 0 and user is None: pytest.skip("running as root and there is no 'postgres' user to run the server as")
    as_user = ['runuser', '-u', user, '--'] if user else []
    d = Path(tempfile.mkdtemp(prefix='fpt-kit-pg-'))  # not under pytest's tmp_path: the server's user must reach it
    if user: shutil.chown(d, user)
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    run = lambda *a: subprocess.run(as_user + list(a), check=True, capture_output=True, text=True)
    run(str(PG_BIN/'initdb'), '-D', str(d/'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8')
    run(str(PG_BIN/'pg_ctl'), '-D', str(d/'data'), '-l', str(d/'log'), '-w', '-o', f"-p {port} -k {d} -c listen_addresses=127.0.0.1", 'start')
    try: yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(PG_BIN/'pg_ctl'), '-D', str(d/'data'), '-m', 'immediate', 'stop')
        shutil.rmtree(d, ignore_errors=True)

def test_two_workers_on_postgres(setup, postgres):
    "`--workers 2` on a real PostgreSQL server: two worker processes complete the grid, every trial once"
    out = setup['root']/'pg'
    args = setup['args'](seeds=1, epochs=1)
    r = subprocess.run([sys.executable, '-m', 'fpt_kit.cli', 'compare'] + args + ['--out', str(out), '--storage', postgres, '--workers', '2'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    trials = _study_trials(postgres, out)
    _check_once(trials, 4)
    assert r.stdout.count('valid AUC') == 4 and len(pd.read_csv(out/'trials.csv')) == 4
    pids = {t.user_attrs['worker']['pid'] for t in trials}
    assert len(pids) <= 2 and not any(str(pid) == str(os.getpid()) for pid in pids)  # run by the worker processes
