"""Two CPU processes started by `accelerate launch` (its multi-GPU launcher, which is torchrun, runs CPU processes on gloo
when there is no GPU): sharded preloading into one store, then data-parallel training with fastai's distrib_ctx. The run folder must hold a complete store, a trained model, and metrics over the whole split."""
import json, os, subprocess, sys
from pathlib import Path
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]

def test_two_process_preload_and_training(tmp_path):
    from fpt_kit.core import tiny_vit
    from fpt_kit.data.synth import make_synthetic
    from fpt_kit.store import FeatureStore
    accelerate = Path(sys.executable).parent/'accelerate'
    ds = make_synthetic(tmp_path/'ds', n_train=12, n_valid=6, n_test=6, size=64)
    save_file(tiny_vit(embed_dim=64, depth=2, num_heads=4).state_dict(), tmp_path/'lpm.safetensors')
    cmd = [str(accelerate), 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
           '--dynamo_backend', 'no', '--main_process_port', '29517', '-m', 'fpt_kit.cli', 'train', str(ds), '--out', str(tmp_path/'run'),
           '--arch', 'vit_tiny_patch16_224', '--weights', str(tmp_path/'lpm.safetensors'), '--model-kwargs', '{"embed_dim": 64, "depth": 2, "num_heads": 4}',
           '--lpm-size', '64', '--side-size', '32', '--epochs', '2', '--bs', '4', '--root', str(tmp_path/'features')]
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1'}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = tmp_path/'run'
    cfg = json.loads((run/'config.json').read_text())
    assert cfg['command']['world_size'] == 2
    store = FeatureStore(next((tmp_path/'features').iterdir()))
    journals = sorted(p.name for p in store.path.glob('journal-r*.jsonl'))
    assert journals == ['journal-r000.jsonl', 'journal-r001.jsonl'], journals  # both ranks preloaded their share
    assert len(store) == 24  # every image of every split, once
    metrics = json.loads((run/'metrics.json').read_text())
    assert 0 <= metrics['valid']['auc'] <= 1 and (run/'weights.safetensors').stat().st_size > 0
    # the metrics gathered from both ranks are those of the whole split: one process, the same weights, agrees
    from fpt_kit.cli import load_run, run_items
    one = load_run(run, device='cpu').evaluate(items=run_items(run, 'valid'))
    assert abs(one['loss'] - metrics['valid']['loss']) < 1e-4 and abs(one['auc'] - metrics['valid']['auc']) < 1e-6, (one, metrics['valid'])
