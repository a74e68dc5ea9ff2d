"A method registered in a few lines is found by fpt_learner, `fpt-kit train --method` and the benchmark tables, with no other file touched."
import contextlib, io, json
from dataclasses import dataclass
import pytest, torch
from torch import nn
from safetensors.torch import save_file
from fpt_kit import FPTData, fpt_dls, folder_items, fpt_learner, register_method, register_baseline, get_method, METHODS
from fpt_kit.methods import MethodOptions, option, positive_int, unregister_method
from fpt_kit.models.backbone import create_lpm
from fpt_kit.core import tiny_vit
from fpt_kit.data.synth import make_synthetic
from fpt_kit.cli import main
from fpt_kit.experiments.tables import param_table, memory_table, table1

TINY = dict(embed_dim=64, depth=2, num_heads=4)
ARCH = 'vit_tiny_patch16_224'

# --- the whole of a new method: options, a model, a builder, one registration ---------------------------------------
@dataclass(frozen=True)
class PooledOptions(MethodOptions):
    hidden:int = option(8, "Width of the hidden layer on the pooled features", positive_int)

class PooledProbe(nn.Module):
    "A frozen timm ViT, its mean-pooled patch tokens through a small trainable MLP"
    def __init__(self, body, n_out, hidden):
        super().__init__()
        self.body, self.mlp = body.requires_grad_(False), nn.Sequential(nn.Linear(body.num_features, hidden), nn.GELU(), nn.Linear(hidden, n_out))
    def forward(self, x): return self.mlp(self.body.forward_features(x)[:, self.body.num_prefix_tokens:].mean(1))
    def trainable_groups(self): return [list(self.mlp.parameters())]

def build_pooled(arch, n_out, cfg, img_size=None, pretrained=False, weights=None, device=None, **model_kwargs):
    with torch.device(device or 'cpu'): return PooledProbe(create_lpm(arch, img_size, pretrained, weights, **model_kwargs), n_out, cfg.hidden)
# ----------------------------------------------------------------------------------------------------------------------

@pytest.fixture
def toy_methods():
    register_method('pooled', build_pooled, ('lpm',), PooledOptions, label='Pooled probe', doc='an MLP on mean-pooled tokens', replace=True)
    register_baseline('norms', lambda n: '.norm' in n, label='LayerNorm tuning', replace=True)  # a baseline: a rule on parameter names
    try: yield
    finally:
        for n in ('pooled', 'norms'): unregister_method(n)

def _data(tmp_path):
    ds = make_synthetic(tmp_path/'ds', n_train=6, n_valid=3, n_test=3, size=64)
    w = tmp_path/'lpm.safetensors'
    save_file(tiny_vit(**TINY).state_dict(), w)
    return ds, w

def test_found_by_fpt_learner(tmp_path, toy_methods):
    ds, w = _data(tmp_path)
    dls = fpt_dls(folder_items(ds), FPTData(64, 32, views=('lpm',)), bs=4, seed=0, device='cpu')
    learn = fpt_learner(dls, ARCH, method='pooled', cfg=dict(hidden=4), weights=w, model_kwargs=TINY)
    assert learn.method == 'pooled' and learn.model.mlp[0].out_features == 4
    frozen = {n: p.clone() for n, p in learn.model.body.named_parameters()}
    with learn.no_bar(), learn.no_logging(): learn.fit_fpt(1)
    assert all(torch.equal(frozen[n], p) for n, p in learn.model.body.named_parameters())  # FrozenGuard and the splitter see its groups
    norms = fpt_learner(dls, ARCH, method='norms', weights=w, model_kwargs=TINY)
    assert {n for n, p in norms.model.named_parameters() if p.requires_grad} == {n for n, _ in norms.model.named_parameters() if '.norm' in n or n.startswith('head.')}
    with pytest.raises(ValueError, match="'hiden' is not an option of method='pooled'; its options are hidden"):
        fpt_learner(dls, ARCH, method='pooled', cfg=dict(hiden=4), weights=w, model_kwargs=TINY)

def test_found_by_the_cli(tmp_path, toy_methods):
    ds, w = _data(tmp_path)
    common = ['--arch', ARCH, '--weights', str(w), '--model-kwargs', json.dumps(TINY), '--lpm-size', '64', '--epochs', '1', '--bs', '4']
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(['train', str(ds), '--method', 'pooled', '--options', '{"hidden": 3}', '--out', str(tmp_path/'run')] + common) == 0
    cfg = json.loads((tmp_path/'run'/'config.json').read_text())
    assert (cfg['command']['method'], cfg['cfg']) == ('pooled', {'hidden': 3})
    with contextlib.redirect_stdout(io.StringIO()) as out: assert main(['evaluate', str(tmp_path/'run')]) == 0  # rebuilt from the registry
    import pandas as pd
    assert json.loads(out.getvalue())['images'] == (pd.read_csv(tmp_path/'run'/'items.csv').split == 'test').sum() > 0

def test_found_by_the_tables(toy_methods):
    names = [e.name for e in table1()]
    assert 'Pooled probe' in names and 'LayerNorm tuning' in names and names.index('LayerNorm tuning') < names.index('FPT')
    p = param_table(ARCH, n_out=3, img_size=64, model_kwargs={**TINY, 'depth': 6})
    head = 64 * 3 + 3
    assert p.loc['Pooled probe', 'learnable'] == 64 * 8 + 8 + 8 * 3 + 3
    assert p.loc['LayerNorm tuning', 'learnable'] == 6 * 2 * 2 * 64 + 2 * 64 + head  # norm1, norm2 per block, the final norm, the head
    m = memory_table(['pooled', 'norms'], arch=ARCH, img_size=64, bs=2, n_out=3, measure='fake', attention='fused', model_kwargs=TINY)
    m = m.reset_index()
    assert set(m['name']) == {'Pooled probe', 'LayerNorm tuning'} and (m['bytes'] > 0).all()

def test_unregistered_after():
    assert 'pooled' not in METHODS and 'norms' not in METHODS
    with pytest.raises(ValueError, match="method='pooled' is not allowed"): get_method('pooled')

def test_fpt_plus_on_any_depth(tmp_path):
    "FPT+ reads the last half of the LPM's blocks: 6 of ViT-B's 12 (the paper), 2 of the shipped LPM's 4"
    from fpt_kit.models.lpm import shipped_lpm
    from fpt_kit.bench import bench_model, experiment
    assert bench_model(experiment('fpt_plus'), 'vit_base_patch16_384', 5).backbone.layers == tuple(range(6, 12))
    ds, _ = _data(tmp_path)
    s = shipped_lpm()
    dls = fpt_dls(folder_items(ds), FPTData(s.img_size, 64), bs=4, seed=0, device='cpu')
    learn = fpt_learner(dls, method='fpt_plus', **s.learner_kwargs())
    assert learn.model.backbone.layers == (2, 3) and learn.method == 'fpt_plus'

def test_a_baseline_unregistered_is_gone_everywhere(toy_methods):
    from fpt_kit.baselines import build_baseline
    unregister_method('norms')
    with pytest.raises(ValueError, match="method='norms' is not allowed"): build_baseline('norms', ARCH, 3, img_size=64, **TINY)
    assert build_baseline('lora', ARCH, 3, img_size=64, lora_rank=2, **TINY).options.lora_rank == 2  # other baselines unaffected
    register_baseline('norms', lambda n: '.norm' in n)  # for the fixture's clean-up
