"""The docs site (`make docs`, docs/build.py) builds offline from the notebooks: a reduced site (the FrozenBackbone
notebook, the walkthrough, every API page) is built into a temporary folder and read back statically. The real-browser
test of the full site is separate."""
import hashlib, html, importlib.util, os, re, subprocess, sys
from html.parser import HTMLParser
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ['02_models.backbone.ipynb', 'tutorials/01_walkthrough.ipynb']
_spec = importlib.util.spec_from_file_location('fpt_kit_docs_build', ROOT/'docs'/'build.py')
build = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(build)

class _Page(HTMLParser):
    "The URLs a page loads (scripts, stylesheets, images, frames) and its text"
    def __init__(self, text):
        super().__init__(); self.loads, self.links, self.text, self.ids = [], [], [], set()
        self.feed(text)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag in ('script', 'img', 'iframe', 'source', 'embed', 'audio', 'video') and a.get('src'): self.loads.append(a['src'])
        if tag == 'link' and a.get('href'): self.loads.append(a['href'])
        if tag == 'a' and a.get('href'): self.links.append(a['href'])
    def handle_data(self, data): self.text.append(data)
    @property
    def plain(self): return ' '.join(''.join(self.text).split())

def _leaves_localhost(url:str)->bool:
    m = re.match(r'(?:https?:)?//([^/:]+)', url)
    return bool(m) and m.group(1) not in ('localhost', '127.0.0.1', '[::1]')

def _nbs_digest()->str: return hashlib.sha256(b''.join(p.read_bytes() for p in sorted((ROOT/'nbs').rglob('*.ipynb')))).hexdigest()

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('docs')
    before = _nbs_digest()
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'PYTHONPATH': str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT/'docs'/'build.py'), '--nbs', *NBS, '--out', str(tmp/'site'), '--work', str(tmp/'work'),
                        '--jobs', '2'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"docs build failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    assert _nbs_digest() == before, "the docs build changed notebooks in nbs/ (it must execute copies)"
    assert not (tmp/'jupyter_execute').exists() and sorted(p.name for p in tmp.iterdir()) == ['site', 'work'], "the build writes only its work folder and the site"
    return tmp/'site'

def _page(site, rel): return _Page((site/rel).read_text(encoding='utf-8'))

def test_page_names_are_nbdevs():
    test = [(build.page_name(Path(p)), q) for p, q in [('02_models.backbone.ipynb', 'models.backbone'), ('tutorials/01_walkthrough.ipynb', 'tutorials/walkthrough'),
                                                       ('index.ipynb', 'index'), ('13a_experiments.lpm.ipynb', 'experiments.lpm')]]
    assert all(str(a) == b for a, b in test), test

def test_terminal_text_writes_over_after_carriage_return():
    "fastprogress' console bars: each \\r starts the line again, as a terminal or JupyterLab shows it"
    assert build._terminal_text('█\repoch  loss\n█\r\rEpoch 1/2 : |--| 0%\rEpoch 1/2 :          \r0  1.100000  00:00') == 'epoch  loss\n0  1.100000  00:00'
    assert build._terminal_text('abc\rX') == 'Xbc'  # written over, not replaced

def test_every_page_loads_only_local_files(site):
    pages = sorted(site.rglob('*.html'))
    assert len(pages) > 10, pages
    bad = {str(p.relative_to(site)): u for p in pages for u in _Page(p.read_text(encoding='utf-8')).loads if _leaves_localhost(u)}
    assert not bad, f"pages load files from outside the site: {bad}"
    css = {str(p.relative_to(site)): m for p in site.rglob('*.css') for m in re.findall(r'(?:url\(|@import\s+)["\']?((?:https?:)?//[^"\')\s]+)', p.read_text(errors='replace'))
           if _leaves_localhost(m)}
    assert not css, f"stylesheets load files from outside the site: {css}"

def test_walkthrough_draws_plotly_figures_with_the_local_plotly_js(site):
    plotly_js = site/'_static'/'plotly.min.js'
    assert plotly_js.stat().st_size > 1_000_000 and b'plotly.js' in plotly_js.read_bytes()[:200]
    text = (site/'tutorials'/'walkthrough.html').read_text(encoding='utf-8')
    p = _Page(text)
    srcs = [u.split('?')[0] for u in p.loads]
    assert '../_static/plotly.min.js' in srcs, srcs
    assert text.index('plotly.min.js') < text.index('Plotly.newPlot'), "plotly.js must load before the figures' scripts run"
    assert text.count('class="plotly-graph-div"') >= 5 and 'Plotly.newPlot' in text
    assert build.WIDGET_NOTE in html.unescape(text), "the widget outputs should say they are static snapshots"
    assert 'VBox(children' not in text

def test_maths_is_rendered_by_the_local_mathjax(site):
    assert (site/'_static'/'mathjax'/'tex-svg.js').stat().st_size > 1_000_000
    text = (site/'models.backbone.html').read_text(encoding='utf-8')
    assert '_static/mathjax/tex-svg.js' in ' '.join(_Page(text).loads) and 'class="math' in text
    assert 'plotly.min.js' not in text, "plotly.js is loaded only by the pages that draw a figure"

def test_notebook_pages_follow_nbdev_directives(site):
    "`#| hide` and `#| default_exp` cells are gone, `#| export` cells are shown as code followed by their show_doc, no directive is left"
    from fastcore.nbio import read_nb
    page = _page(site, 'models.backbone.html')
    nb = read_nb(ROOT/'nbs'/NBS[0])
    code = [(c.directives, c.source) for c in nb.cells if c.cell_type == 'code']
    def body(src): return ''.join(l for l in src.splitlines(True) if not l.lstrip().startswith('#|')).strip()
    shown = [body(s) for d, s in code if not d.keys() & {'hide', 'default_exp'}]
    hidden = [body(s) for d, s in code if 'hide' in d and body(s) and not any(body(s) in t for t in shown)]
    assert hidden, "the test needs a hidden cell of its own"
    for src in hidden: assert ' '.join(src.split()) not in page.plain, src[:200]
    for src in shown[:5]: assert ' '.join(src.splitlines()[0].split()) in page.plain, src[:200]
    assert '#|' not in page.plain and 'default_exp' not in page.plain
    assert 'frozenbackbone' in page.ids, "show_doc's heading for FrozenBackbone (nbdev's anchor)"

def test_frozen_backbone_api_page_shows_each_parameter_comment(site):
    from fastcore.docments import docments
    from fpt_kit.models.backbone import FrozenBackbone
    page = _page(site, 'api/fpt_kit.models.backbone.html')
    assert 'frozenbackbone' in page.ids and 'frozenbackbone-forward' in page.ids
    comments = {k: v for k, v in docments(FrozenBackbone).items() if v and k != 'return'}
    assert len(comments) >= 5, comments
    for k, v in comments.items(): assert f'{k}:' in page.plain and ' '.join(v.split()) in page.plain, (k, v)
    assert '../models.backbone.html' in page.links, "the API page links to the notebook that explains the module"

def test_navigation_and_search(site):
    index = _page(site, 'index.html')
    for href in ('tutorials/walkthrough.html', 'models.backbone.html', 'api/index.html'): assert href in index.links, (href, index.links)
    assert 'fpt_kit.models.backbone.html' in _page(site, 'api/index.html').links
    assert len(list((site/'api').glob('fpt_kit.*.html'))) == len(build.api_modules())
    search = (site/'searchindex.js').read_text()
    for term in ('frozenbackbon', 'walk', 'preload'): assert f'"{term}' in search, term  # Sphinx stems and lowercases
    assert (site/'search.html').exists()

def test_backticked_names_link_to_their_api_entry():
    index = {'FrozenBackbone': ('fpt_kit.models.backbone', 'frozenbackbone'), 'fpt_kit.models.backbone': ('fpt_kit.models.backbone', '')}
    md = '\n'.join(['Wrap a ViT in `FrozenBackbone` or call `FrozenBackbone()`; `unknown` stays, as does [`FrozenBackbone`](x).',
                    '## `FrozenBackbone`', '```python', '`FrozenBackbone`', '```', 'The module `fpt_kit.models.backbone`.'])
    out = build.linkify(md, index, 'tutorials/walkthrough').split('\n')
    assert out[0] == ('Wrap a ViT in [`FrozenBackbone`](../api/fpt_kit.models.backbone.md#frozenbackbone) or call '
                      '[`FrozenBackbone()`](../api/fpt_kit.models.backbone.md#frozenbackbone); `unknown` stays, as does [`FrozenBackbone`](x).')
    assert out[1:5] == md.split('\n')[1:5], "headings and fenced code are left alone"
    assert out[5] == 'The module [`fpt_kit.models.backbone`](../api/fpt_kit.models.backbone.md).'
    assert build.linkify('`FrozenBackbone`', index, 'api/fpt_kit.models.backbone') == '[`FrozenBackbone`](#frozenbackbone)', "on its own page: the anchor"
    real = build.api_index(build.api_modules())
    assert real['FrozenBackbone'] == ('fpt_kit.models.backbone', 'frozenbackbone') and real['FrozenBackbone.forward'][1] == 'frozenbackboneforward'
    assert real['fpt_learner'][0] == 'fpt_kit.learner' and real['FPTDataLoaders'][0] == 'fpt_kit.data.core', "re-exports link to where a name is defined"
    assert 'evaluate' not in real and real['FPTLearner.evaluate'][1] == 'fptlearnerevaluate', "`evaluate` is the CLI's and FPTLearner's: not linked"

def test_api_pages_show_properties_as_attributes_and_every_signature_in_full():
    import fpt_kit.data.core as dc
    page = build.api_page('fpt_kit.models.backbone', None)
    assert 'FrozenBackbone.n_keep: int  # property' in page and 'def n_keep' not in page
    page = build.api_page('fpt_kit.data.core', None)  # FPTDataLoaders' annotations name FeatureStore, imported there only for type checking
    assert 'store:FeatureStore | None=None, # Preloaded: the feature store' in page, "FPTDataLoaders shown with its parameter comments"
    assert 'FeatureStore' not in vars(dc), "the names lent to the module for the docs are taken back"

def test_doc_links_on_the_site_reach_an_anchor_that_exists(site):
    pages = {p.resolve(): _Page(p.read_text(encoding='utf-8')) for p in site.rglob('*.html')}
    walk = pages[(site/'tutorials'/'walkthrough.html').resolve()]
    assert '../api/fpt_kit.data.core.html#fpt-dls' in walk.links, "the walkthrough links `fpt_dls` to its API entry"
    dead = []
    for p, page in pages.items():
        for href in page.links:
            f, _, anchor = href.partition('#')
            if _leaves_localhost(href) or not anchor or '/api/' not in f'/{p.relative_to(site.resolve()).parent}/{f}': continue
            target = (p.parent/f).resolve() if f else p
            if target not in pages or anchor not in pages[target].ids: dead.append((str(p.relative_to(site.resolve())), href))
    assert not dead, f"links to API entries that do not exist: {dead[:10]}"
