"""Checkpoint formats loaded exactly (issue 15). Tiny random models are built in their source library (transformers ViT and
DINOv2 with and without registers, open_clip with a timm image tower, timm itself), saved the way their users save them,
loaded through the kit, and compared with the source in fp32: the final hidden states of the source against the converted
timm model's, and the keys and values FrozenBackbone extracts (every token, every block) against the source model's own
key and value projections. Nothing is downloaded. `python tests/test_checkpoints.py` prints the table of differences."""
import ast, json
from pathlib import Path
import pytest, timm, torch
import transformers as hf
import open_clip
from safetensors.torch import save_file
from fpt_kit.core import seeded
from fpt_kit.data.core import FPTData
from fpt_kit.models.backbone import FrozenBackbone, create_lpm
from fpt_kit.models.weights import read_checkpoint
from fpt_kit.preload import feature_fingerprint

TOL = 1e-5
HF = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, hidden_dropout_prob=0., attention_probs_dropout_prob=0.)

def _hf_model(cls, cfg_cls, **kw):
    with seeded(0):
        m = cls(cfg_cls(**HF, **kw)).eval()
        with torch.no_grad():  # LayerScale and norms away from their initial 1 / 0, so a wrong mapping shows
            for n, p in m.named_parameters():
                if p.ndim == 1 or 'lambda1' in n or 'token' in n: p.add_(torch.randn_like(p) * 0.1)
    return m

def _hf_kv(model, x, heads:int):
    "Keys and values of every layer from the transformers model's own key / value Linear layers: (L, B, H, N, dh) each"
    mods = {n: m for n, m in model.named_modules() if n.endswith(('attention.key', 'attention.value', '.k_proj', '.v_proj'))}
    out = {n: None for n in mods}
    hs = [m.register_forward_hook(lambda mod, a, o, n=n: out.__setitem__(n, o)) for n, m in mods.items()]
    try:
        with torch.no_grad(): h = model(pixel_values=x)
    finally:
        for hk in hs: hk.remove()
    split = lambda t: t.reshape(*t.shape[:2], heads, -1).transpose(1, 2)  # (B, N, d) -> (B, H, N, dh)
    k = torch.stack([split(o) for n, o in out.items() if n.endswith(('key', 'k_proj'))])
    v = torch.stack([split(o) for n, o in out.items() if n.endswith(('value', 'v_proj'))])
    return (h.last_hidden_state if hasattr(h, 'last_hidden_state') else None), k, v

def _timm_kv(model, x):
    "Keys and values of every block of a timm ViT from its own qkv Linear: (L, B, H, N, dh) each, and its final hidden states"
    outs = []
    hs = [b.attn.qkv.register_forward_hook(lambda mod, a, o: outs.append(o)) for b in model.blocks]
    try:
        with torch.no_grad(): feats = model.forward_features(x)
    finally:
        for hk in hs: hk.remove()
    H = model.blocks[0].attn.num_heads
    kv = [o.reshape(*o.shape[:2], 3, H, -1).permute(2, 0, 3, 1, 4) for o in outs]  # (3, B, H, N, dh)
    return feats, torch.stack([t[1] for t in kv]), torch.stack([t[2] for t in kv])

def _kit(weights, x, arch=None, **kw):
    "The kit's view of a checkpoint: the converted timm model's final hidden states, and FrozenBackbone's keys and values of every token"
    fb = FrozenBackbone(arch, weights=weights, token_ratio=1.0, **kw)
    with torch.no_grad(): k, v = fb(x); feats = fb.model.forward_features(x)
    return fb, feats, k, v

def _row(fmt, source, fb, ref, got):
    (h0, k0, v0), (h1, k1, v1) = ref, got
    return dict(format=fmt, source=source, timm=fb.model.pretrained_cfg['architecture'],
                hidden=(h0 - h1).abs().max().item(), kv=max((k0 - k1).abs().max().item(), (v0 - v1).abs().max().item()))

def hf_cases(d:Path):
    "transformers models saved with save_pretrained: (format, source class, folder, source model, image size, heads)"
    yield 'transformers', 'ViTModel', _hf_model(hf.ViTModel, hf.ViTConfig, intermediate_size=96, image_size=32, patch_size=8), 32
    yield 'transformers', 'ViTForImageClassification', _hf_model(hf.ViTForImageClassification, hf.ViTConfig, intermediate_size=128, image_size=32, patch_size=8, num_labels=3), 32
    yield 'transformers', 'Dinov2Model', _hf_model(hf.Dinov2Model, hf.Dinov2Config, image_size=28, patch_size=7), 28
    yield 'transformers', 'Dinov2WithRegistersModel', _hf_model(hf.Dinov2WithRegistersModel, hf.Dinov2WithRegistersConfig, image_size=28, patch_size=7, num_register_tokens=4), 28

def _timm_src(**kw):
    with seeded(0):
        m = timm.create_model('vit_small_patch16_224', pretrained=False, img_size=64, embed_dim=64, depth=2, num_heads=4, **kw).eval()
        with torch.no_grad():
            for p in m.parameters():
                if p.ndim == 1: p.add_(torch.randn_like(p) * 0.1)
    return m

def timm_cases(d:Path):
    "timm models saved the ways their users save them: (format, how, path, source model, arch)"
    m = _timm_src(num_classes=5)
    sd = m.state_dict()
    torch.save({'model': {'module.' + k: v for k, v in sd.items()}, 'epoch': 9}, d/'ddp.pth')
    yield 'timm', "{'model': ...}, 'module.' prefix (.pth)", d/'ddp.pth', m, 'vit_small_patch16_224'
    save_file({'backbone.' + k: v for k, v in sd.items() if not k.startswith('head')}, d/'backbone.safetensors')
    yield 'timm', "'backbone.' prefix, no head (safetensors)", d/'backbone.safetensors', m, 'vit_small_patch16_224'
    mae = {**sd, 'mask_token': torch.zeros(1, 1, 32), 'decoder_embed.weight': torch.zeros(32, 64), 'decoder_pred.weight': torch.zeros(768, 32)}
    torch.save({'state_dict': {'encoder.' + k: v for k, v in mae.items()}}, d/'mae.bin')
    yield 'timm', "MAE checkpoint, {'state_dict': ...}, 'encoder.' (.bin)", d/'mae.bin', m, 'vit_small_patch16_224'
    ls = _timm_src(init_values=1e-5, reg_tokens=2, no_embed_class=True, num_classes=0)  # LayerScale and registers, found in the tensors
    (d/'hub').mkdir(); save_file(ls.state_dict(), d/'hub'/'model.safetensors')
    (d/'hub'/'config.json').write_text(json.dumps(dict(architecture='vit_small_patch16_224', num_classes=0, model_args=dict(img_size=64, embed_dim=64, depth=2, num_heads=4))))
    yield 'timm hub folder', 'LayerScale + 2 registers (config.json)', d/'hub', ls, None

def open_clip_cases(d:Path):
    "open_clip CLIP models with a timm image tower, as open_clip training and the hub save them"
    with seeded(0):
        m = open_clip.CLIP(embed_dim=32, vision_cfg=dict(timm_model_name='test_vit', timm_pool='', timm_proj='linear', image_size=160),
                           text_cfg=dict(context_length=8, vocab_size=50, width=32, heads=2, layers=1)).eval()
    sd = m.state_dict()
    torch.save({'epoch': 1, 'name': 'tiny', 'state_dict': {'module.' + k: v for k, v in sd.items()}}, d/'epoch_1.pt')
    yield 'open_clip', "training checkpoint, 'module.' (arch given)", d/'epoch_1.pt', m, 'test_vit'
    (d/'oc').mkdir(); torch.save(sd, d/'oc'/'open_clip_pytorch_model.bin')
    (d/'oc'/'open_clip_config.json').write_text(json.dumps(dict(model_cfg=dict(embed_dim=32, vision_cfg=dict(timm_model_name='test_vit', image_size=160)),
                                                                preprocess_cfg=dict(mean=[0.5] * 3, std=[0.5] * 3))))
    yield 'open_clip', 'hub folder (open_clip_config.json)', d/'oc', m, None

def differences(d:Path)->list[dict]:
    "One row per format and source: the largest differences between the source and the kit"
    rows = []
    for fmt, source, m, sz in hf_cases(d):
        folder = d/source; m.save_pretrained(folder)
        with seeded(1): x = torch.randn(2, 3, sz, sz)
        fb, *got = _kit(folder, x)
        rows.append(_row(fmt, source, fb, _hf_kv(m.vit if hasattr(m, 'vit') else m, x, 4), got))
    for fmt, source, path, m, arch in timm_cases(d):
        with seeded(1): x = torch.randn(2, 3, 64, 64)
        fb, *got = _kit(path, x, arch, **({} if arch is None else dict(img_size=64, embed_dim=64, depth=2, num_heads=4)))
        rows.append(_row(fmt, source, fb, _timm_kv(m, x), got))
    for fmt, source, path, m, arch in open_clip_cases(d):
        with seeded(1): x = torch.randn(2, 3, 160, 160)
        fb, *got = _kit(path, x, arch)
        rows.append(_row(fmt, source, fb, _timm_kv(m.visual.trunk, x), got))
    return rows

def test_every_format_is_exact(tmp_path):
    rows = differences(tmp_path)
    assert len(rows) == 10
    for r in rows: assert r['hidden'] < TOL and r['kv'] < TOL, r
    timm_names = {r['source']: r['timm'] for r in rows}
    assert timm_names['Dinov2WithRegistersModel'] == 'vit_base_patch14_reg4_dinov2' and timm_names['ViTModel'] == 'vit_base_patch16_224'

def test_conversion_carries_what_changes_the_numbers(tmp_path):
    "LayerNorm eps, LayerScale, registers come from the config; a wrong eps would show in the hidden states"
    m = _hf_model(hf.ViTModel, hf.ViTConfig, intermediate_size=96, image_size=32, patch_size=8)
    m.save_pretrained(tmp_path/'vit')
    c = read_checkpoint(tmp_path/'vit')
    assert (c.format, c.source, c.arch) == ('transformers', 'ViTModel', 'vit_base_patch16_224')
    assert c.model_kwargs['norm_layer'].keywords == {'eps': 1e-12} and c.model_kwargs['mlp_ratio'] == 1.5
    assert set(c.dropped) == {'pooler.dense.weight', 'pooler.dense.bias'}
    fb = FrozenBackbone(None, weights=tmp_path/'vit')
    assert fb.model.blocks[0].norm1.eps == 1e-12 and fb.model.norm.eps == 1e-12
    r = _hf_model(hf.Dinov2WithRegistersModel, hf.Dinov2WithRegistersConfig, image_size=28, patch_size=7, num_register_tokens=4)
    r.save_pretrained(tmp_path/'reg')
    fb = FrozenBackbone(None, weights=tmp_path/'reg')
    assert fb.num_prefix_tokens == 5 and fb.model.no_embed_class and fb.n_tokens == 21
    torch.testing.assert_close(fb.model.blocks[1].ls2.gamma, r.state_dict()['encoder.layer.1.layer_scale2.lambda1'], rtol=0, atol=0)
    r.save_pretrained(tmp_path/'shards', max_shard_size='50KB')  # a sharded folder: its index names the shards
    assert len(list((tmp_path/'shards').glob('*.safetensors'))) > 1
    torch.testing.assert_close(FrozenBackbone(None, weights=tmp_path/'shards').model.state_dict(), fb.model.state_dict(), rtol=0, atol=0)

def test_other_sizes_resample_the_position_grid(tmp_path):
    "Read at another size, transformers' DINOv2 with registers interpolates as timm's recipe does (antialiased bicubic): pos_resample='timm' matches it"
    r = _hf_model(hf.Dinov2WithRegistersModel, hf.Dinov2WithRegistersConfig, image_size=28, patch_size=7, num_register_tokens=4)
    r.save_pretrained(tmp_path/'reg')
    with seeded(1): x = torch.randn(2, 3, 56, 56)
    fb, feats, k, v = _kit(tmp_path/'reg', x, img_size=56, pos_resample='timm')
    h, k0, v0 = _hf_kv(r, x, 4)
    assert (h - feats).abs().max() < TOL and (k - k0).abs().max() < TOL and (v - v0).abs().max() < TOL

def test_converted_and_native_give_one_store(tmp_path):
    "The fingerprint identifies weights by content: a transformers folder and its converted weights saved as a timm file make the same store"
    m = _hf_model(hf.Dinov2Model, hf.Dinov2Config, image_size=28, patch_size=7)
    m.save_pretrained(tmp_path/'dino')
    c = read_checkpoint(tmp_path/'dino')
    converted = FrozenBackbone(None, weights=tmp_path/'dino', token_ratio=0.5)
    save_file(converted.model.state_dict(), tmp_path/'native.safetensors')
    native = FrozenBackbone(c.arch, weights=tmp_path/'native.safetensors', token_ratio=0.5, **c.model_kwargs)
    data = FPTData(lpm_size=28, side_size=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    assert feature_fingerprint(converted, data) == feature_fingerprint(native, data)
    x = torch.randn(1, 3, 28, 28)
    assert all(torch.equal(a, b) for a, b in zip(converted(x), native(x)))
    with torch.no_grad(): converted.model.blocks[0].attn.qkv.bias[0] += 1e-4
    assert feature_fingerprint(converted, data) != feature_fingerprint(native, data)

def test_catalogue_names_and_format_names(tmp_path):
    "A catalogue name stands for its timm architecture and arguments; a format that names its architecture needs no arch, and refuses another"
    m = _timm_src(num_classes=0, init_values=1e-5)
    save_file(m.state_dict(), tmp_path/'uni-like.safetensors')
    lpm = create_lpm('uni', weights=tmp_path/'uni-like.safetensors', img_size=64, embed_dim=64, depth=2, num_heads=4, patch_size=16)
    assert lpm.pretrained_cfg['architecture'] == 'vit_large_patch16_224' and lpm.dynamic_img_size and 'state_dict' not in lpm.pretrained_cfg
    torch.testing.assert_close(lpm.blocks[1].ls1.gamma, m.blocks[1].ls1.gamma, rtol=0, atol=0)
    _hf_model(hf.ViTModel, hf.ViTConfig, intermediate_size=96, image_size=32, patch_size=8).save_pretrained(tmp_path/'vit')
    with pytest.raises(ValueError, match=r"maps to timm's 'vit_base_patch16_224', not arch='vit_base_patch14_dinov2'; leave arch out"):
        create_lpm('vit_base_patch14_dinov2', weights=tmp_path/'vit')
    assert create_lpm('vit_base_patch16_224.augreg2_in21k_ft_in1k', weights=tmp_path/'vit').pretrained_cfg['tag'] == 'augreg2_in21k_ft_in1k'
    with pytest.raises(ValueError, match=r"is a timm checkpoint \(timm VisionTransformer\), which does not say its architecture; give arch="):
        create_lpm(None, weights=tmp_path/'uni-like.safetensors')

def test_catalogue_names_download_only_their_own_weights(tmp_path, monkeypatch):
    "pretrained=True with a catalogue name asks the hub for that model's weights (never timm's ImageNet weights of the same shape), or says where to get them"
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, 'HF_HUB_OFFLINE', True); monkeypatch.setattr(hc, 'HF_HUB_CACHE', str(tmp_path/'empty_cache'))
    with pytest.raises(ValueError, match=r"arch='retfound' \(RETFound.*cannot be downloaded through timm; get its weights"): create_lpm('retfound', pretrained=True)
    with pytest.raises(ValueError, match=r"arch='hf-hub:MahmoodLab/uni' could not be read from the Hugging Face hub"): create_lpm('uni', pretrained=True)
    with pytest.raises(ValueError, match=r"could not download the weights of 'vit_base_patch14_dinov2.lvd142m'"): create_lpm('dinov2-base', pretrained=True)

def test_truncated_or_foreign_checkpoints_are_refused(tmp_path):
    m = _hf_model(hf.ViTModel, hf.ViTConfig, intermediate_size=96, image_size=32, patch_size=8)
    m.save_pretrained(tmp_path/'vit')
    w = tmp_path/'vit'/'model.safetensors'
    w.write_bytes(w.read_bytes()[:w.stat().st_size // 2])
    with pytest.raises(ValueError, match='is not a readable safetensors file .* truncated or corrupt'): read_checkpoint(tmp_path/'vit')
    with seeded(0): rn = timm.create_model('resnet18', pretrained=False, num_classes=2)
    save_file(rn.state_dict(), tmp_path/'resnet.safetensors')
    with pytest.raises(ValueError, match=r"is in none of the formats understood: its \d+ tensors are named e.g. \['bn1\.\w+'.*with no ViT patch embedding.*transformers: a transformers save_pretrained folder"):
        FrozenBackbone(None, weights=tmp_path/'resnet.safetensors')
    (tmp_path/'swin').mkdir(); m.save_pretrained(tmp_path/'swin')
    cfg = json.loads((tmp_path/'swin'/'config.json').read_text()); cfg['model_type'] = 'swin'
    (tmp_path/'swin'/'config.json').write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"is a transformers 'swin' model; the kit maps vit, dinov2, dinov2_with_registers"): read_checkpoint(tmp_path/'swin')
    (tmp_path/'bare').mkdir(); (tmp_path/'swin'/'model.safetensors').rename(tmp_path/'bare'/'weights.safetensors')
    with pytest.raises(ValueError, match=r"holds transformers weights .* but no transformers config.json"): read_checkpoint(tmp_path/'bare'/'weights.safetensors')

def test_learner_and_command_line_take_a_catalogue_name_or_no_arch(tmp_path):
    "fpt_learner(dls, 'retfound', weights=PATH) builds RETFound's architecture from its weights; the CLI needs no --arch for a folder that names it"
    from fpt_kit.cli import _lpm
    from fpt_kit.data.core import empty_dls
    from fpt_kit.learner import fpt_learner
    from fpt_kit.runs import _file_digest
    m = _timm_src(num_classes=0)
    torch.save({'model': m.state_dict()}, tmp_path/'RETFound_like.pth')
    dls = empty_dls(FPTData(lpm_size=64, side_size=32, mean=(0.5,) * 3, std=(0.25,) * 3), ['a', 'b'])
    learn = fpt_learner(dls, 'retfound', weights=tmp_path/'RETFound_like.pth', model_kwargs=dict(embed_dim=64, depth=2, num_heads=4))
    bb = learn.model.backbone
    assert bb.model.pretrained_cfg['architecture'] == 'vit_large_patch16_224' and bb.img_size == 64
    torch.testing.assert_close(bb.model.blocks[1].attn.qkv.weight, m.blocks[1].attn.qkv.weight, rtol=0, atol=0)
    _hf_model(hf.Dinov2Model, hf.Dinov2Config, image_size=28, patch_size=7).save_pretrained(tmp_path/'dino')
    assert _lpm(None, str(tmp_path/'dino'), False, None) == dict(arch=None, weights=str(tmp_path/'dino'), pretrained=False, model_kwargs={})
    dls28 = empty_dls(FPTData(lpm_size=28, side_size=16, mean=(0.5,) * 3, std=(0.25,) * 3), ['a', 'b'])
    assert fpt_learner(dls28, None, weights=tmp_path/'dino').model.backbone.model.pretrained_cfg['architecture'] == 'vit_base_patch14_dinov2'
    assert _lpm(None, None, False, None)['weights'].name.endswith('.safetensors')  # the shipped LPM
    with pytest.raises(ValueError, match='--pretrained needs --arch'): _lpm(None, None, True, None)
    digest = _file_digest(tmp_path/'dino')  # a run records the folder's content
    (tmp_path/'dino'/'config.json').write_text((tmp_path/'dino'/'config.json').read_text() + ' ')
    assert len(digest) == 64 and _file_digest(tmp_path/'dino') != digest

def test_the_kit_does_not_import_the_source_libraries():
    "transformers and open_clip are test dependencies only: no module of the kit imports them"
    for f in Path(__file__).resolve().parents[1].joinpath('fpt_kit').rglob('*.py'):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ''] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split('.')[0] in ('transformers', 'open_clip') for n in names), (f, names)

if __name__ == '__main__':  # the table of the closing note
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        rows = differences(Path(d))
    print("| format | source | timm architecture | max abs diff, hidden states | max abs diff, K/V |\n|---|---|---|---|---|")
    for r in rows: print(f"| {r['format']} | {r['source']} | {r['timm']} | {r['hidden']:.1e} | {r['kv']:.1e} |")
