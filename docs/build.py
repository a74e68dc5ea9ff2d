"""Build the documentation site offline: execute the notebooks, then Sphinx + myst-nb into _docs/ (`make docs`).

    python docs/build.py                       # every notebook in nbs/, the API pages, the site in _docs/
    python docs/build.py --nbs index.ipynb tutorials/01_walkthrough.ipynb --out /tmp/site   # a reduced site

Three stages, each reusing a well-kept library (docs/README.md says why these):
1. execute: each notebook runs in its own process through execnb's `CaptureShell`, the in-process runner of nbdev's
   `test_nb`, skipping the cells flagged with pyproject's `tst_flags` (`#| slow`, `#| cuda`) and `#| eval: false`, as
   the test suite does; nbdev's `add_show_docs` first adds a `show_doc` cell after each exported definition, as
   nbdev's own docs step does. Then nbdev's processors hide what nbdev hides (`#| hide`, `#| default_exp`,
   `#| exporti`, `#| hide_line`, `#| filter_stream`, housekeeping magics). `#| export` cells stay, shown as code,
   followed by their `show_doc`. Plotly figures become HTML that needs only the local plotly.min.js; an ipywidgets
   output becomes a static snapshot of its last state with a note saying so. The executed notebooks are written to
   `build/docs/exec/` (never over nbs/: the repository does not store outputs), and reused while the notebook, the
   library and this file are unchanged.
2. sources: the executed notebooks under nbdev's page names (`02_models.backbone.ipynb` -> `models.backbone.html`),
   one API page per module (`api/fpt_kit.models.backbone.md`: nbdev's `show_doc` of every public name, signature with
   the docments comment of each parameter), the navigation appended to the front page, plotly.js and MathJax copied
   from their pip packages into `_static/`.
3. site: `sphinx-build` with docs/conf.py (myst-nb reads the executed notebooks, execution off).
"""
import argparse, hashlib, html, json, os, re, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT/'docs'
PLOTLY_MIME, WIDGET_MIME = 'application/vnd.plotly.v1+json', 'application/vnd.jupyter.widget-view+json'
WIDGET_NOTE = ('Static snapshot of an interactive widget, in its last state: its controls need a running Python kernel. '
               'Open the notebook in JupyterLab (make lab) to use them.')

def _cfg():
    from nbdev.config import get_config
    return get_config(ROOT)

def all_notebooks(nbs_path:Path)->list:
    "Every notebook under `nbs_path` but those in folders or files starting with `_` or `.` (as tests/test_notebooks.py)"
    return sorted(p.relative_to(nbs_path) for p in nbs_path.rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(nbs_path).parts))

def page_name(rel:Path)->Path:
    "The docs page of notebook `rel` (relative to nbs/) without suffix, named as nbdev names it: `tutorials/01_walkthrough` -> `tutorials/walkthrough`"
    from nbdev.config import nbpath2html
    return Path(str(nbpath2html(rel))[:-len('.html')])  # not with_suffix(''): `models.backbone` would lose `.backbone`

# ---------------------------------------------------------------- stage 1: execute one notebook (in its own process)

def _source_key(nb_file:Path)->str:
    "What an executed notebook depends on: the notebook, the library's code and shipped files, this file"
    h = hashlib.sha256()
    files = [nb_file, Path(__file__).resolve(), *sorted((ROOT/'fpt_kit').rglob('*.py')), *sorted((ROOT/'data'/'lpm').glob('*'))]
    for f in files: h.update(str(f.relative_to(ROOT)).encode()); h.update(f.read_bytes())
    return h.hexdigest()

def _plotly_html(fig:dict)->str:
    "A plotly figure as a div and a script that needs the page's plotly.min.js (loaded in the head, no CDN)"
    import plotly.io as pio
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, validate=False, config=dict(displaylogo=False))

def _widget_html(w)->str:
    "A static HTML rendering of ipywidget `w` and its children as they are now: plotly figures drawn, controls shown inert"
    import ipywidgets as W
    from plotly.basedatatypes import BaseFigure
    if isinstance(w, BaseFigure): return _plotly_html(w.to_dict())
    if isinstance(w, W.Box):
        row = isinstance(w, W.HBox) or (w.layout.flex_flow or '').startswith('row')
        kids = ''.join(f'<div class="fpt-widget-child">{_widget_html(c)}</div>' for c in w.children)
        return f'<div class="fpt-widget-box" style="display:flex;flex-direction:{"row" if row else "column"};flex-wrap:wrap;gap:0.5em">{kids}</div>'
    if isinstance(w, (W.HTML, W.HTMLMath)): return f'<div class="fpt-widget-html">{w.value}</div>'
    if isinstance(w, W.Output): return ''
    desc = html.escape(str(getattr(w, 'description', '') or ''))
    if hasattr(w, 'value'):
        val = w.value
        if isinstance(w, W.widget_selection._Selection): val = getattr(w, 'label', val)
        return f'<div class="fpt-widget-control"><span>{desc}</span> <code>{html.escape(str(val))}</code></div>'
    return f'<div class="fpt-widget-control">{desc}</div>' if desc else ''

def _terminal_text(text:str)->str:
    "Stream text as a terminal (and JupyterLab) shows it: after a carriage return the line is written over (progress bars)"
    def line(l):
        out = ''
        for seg in l.split('\r'): out = seg + out[len(seg):]
        return out.rstrip()
    return '\n'.join(line(l) for l in text.split('\n'))

def _static_outputs(cell):
    "Plotly JSON -> offline HTML; ipywidget views -> a static snapshot and a note (the live widgets are in this process)"
    from ipywidgets.widgets.widget import _instances
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream':
            o['text'] = _terminal_text(''.join(o['text']) if isinstance(o['text'], list) else o['text']).strip('\n')
        data = o.get('data')
        if not data: continue
        if PLOTLY_MIME in data:
            o['data'] = {'text/html': _plotly_html(data[PLOTLY_MIME]), 'text/plain': data.get('text/plain', '')}
        elif WIDGET_MIME in data:
            w = _instances.get(data[WIDGET_MIME].get('model_id'))
            snap = _widget_html(w) if w is not None else ''
            o['data'] = {'text/html': f'<div class="fpt-widget-snapshot">{snap}<p class="fpt-widget-note">{html.escape(WIDGET_NOTE)}</p></div>',
                         'text/plain': WIDGET_NOTE}

_re_source_link = re.compile(r'^\[source\]\((?!https?://)[^)]*\)\{[^}]*\}\n*', re.MULTILINE)
_re_rule = re.compile(r'\A\s*---\s*\n')  # nbdev's rule above each symbol: a transition docutils refuses inside an output

def _clean_show_doc(cell):
    "A show_doc cell shows its output only (tagged so before); nbdev's `source` link is dropped when the project has no git URL to point at"
    for o in cell.get('outputs', []):
        md = o.get('data', {}).get('text/markdown')
        if md is not None: o['data']['text/markdown'] = _re_rule.sub('', _re_source_link.sub('', ''.join(md) if isinstance(md, list) else md))

_hidden_dirs = {'hide', 'default_exp', 'exporti'}  # what nbdev's docs hide; `export` stays, shown as code

def _hide_nbdev(cell):
    "Drop the cells nbdev's docs hide (nbdev's `rm_export`, less `export`)"
    if cell.cell_type == 'code' and cell.directives_.keys() & _hidden_dirs: del cell['source']

def _quarto_options(cell):
    "The quarto cell options nbdev passes through (`echo`, `output`, `include`) as myst-nb's cell tags"
    d, tags = cell.get('directives_', {}), cell.metadata.setdefault('tags', [])
    if str(d.get('include', '')).lower() == 'false': del cell['source']; return
    if str(d.get('echo', '')).lower() == 'false': tags.append('remove-input')
    if str(d.get('output', '')).lower() == 'false': tags.append('remove-output')

class _Markdown:
    def __init__(self, md:str): self.md = md
    def _repr_markdown_(self): return self.md

def _plain_signature_md(sym, name:str)->str:
    import inspect
    try: sig = str(inspect.signature(sym))
    except (TypeError, ValueError): sig = '(...)'
    doc = inspect.getdoc(sym)
    return f'```python\n{name}{sig}\n```' + (f'\n\n*{doc}*' if doc else '')

def _type_checking_names(mod)->dict:
    "Names module `mod` imports only under `if TYPE_CHECKING:` (to break an import cycle), imported now for the docs"
    import ast, importlib, inspect
    try: tree = ast.parse(inspect.getsource(mod))
    except (OSError, TypeError): return {}
    names = {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and getattr(node.test, 'id', getattr(node.test, 'attr', None)) == 'TYPE_CHECKING'): continue
        for imp in node.body:
            if isinstance(imp, ast.ImportFrom):
                src = importlib.import_module(imp.module if not imp.level else '.' * imp.level + (imp.module or ''), mod.__package__)
                names.update({a.asname or a.name: getattr(src, a.name) for a in imp.names})
            elif isinstance(imp, ast.Import):
                names.update({(a.asname or a.name).split('.')[0]: importlib.import_module((a.asname and a.name) or a.name.split('.')[0]) for a in imp.names})
    return names

def _with_hints(render, sym):
    """`render()`, where fastcore evaluates `sym`'s annotations: a name its module imports only for type checking
    is lent to the module's namespace for the call (and taken back), so the signature shows its parameter comments"""
    try: return render()
    except NameError:
        mod = sys.modules.get(getattr(sym, '__module__', None) or '')
        lent = {k: v for k, v in (_type_checking_names(mod) if mod else {}).items() if k not in vars(mod)}
        if not lent: raise
        vars(mod).update(lent)
        try: return render()
        finally:
            for k in lent: vars(mod).pop(k, None)

def show_doc_safe(sym, name:str|None=None, title_level:int=3):
    "nbdev's `show_doc`; where fastcore cannot evaluate an annotation (a name the module imports only inside a function), the plain signature and a warning"
    from nbdev.showdoc import show_doc
    try: return _with_hints(lambda: show_doc(sym, name=name, title_level=title_level), sym)
    except NameError as e:
        from fastcore.docments import qual_name
        name = name or qual_name(sym)
        print(f'docs: show_doc({name}): {e}; shown without its parameter comments', file=sys.__stderr__)  # the build's log, not the page
        return _Markdown(f'{"#" * title_level} {name}\n\n' + _plain_signature_md(sym, name))

_SHOW_DOC_SAFE = (f"import importlib.util as _u; _s = _u.spec_from_file_location('fpt_kit_docs_build', {str(Path(__file__).resolve())!r}); "
                  "_m = _u.module_from_spec(_s); _s.loader.exec_module(_m); _docs_show_doc = _m.show_doc_safe; del _u, _s, _m")

def execute_notebook(src:Path, dest:Path, key:str)->bool:
    "Run notebook `src` as nbdev's `test_nb` does (skip flags, cwd, sys.path), then write the docs form of it to `dest`"
    os.environ.setdefault('PLOTLY_RENDERER', 'plotly_mimetype')  # figures as their JSON; turned into offline HTML below
    from fastcore.nbio import read_nb, write_nb
    from fastcore.xtras import working_directory
    from execnb.shell import CaptureShell
    from nbdev.process import NBProcessor
    from nbdev.processors import populate_language, add_show_docs, strip_ansi, hide_line, filter_stream_, rm_header_dash, clean_magics, hide_
    from nbdev.test import _skip_cell  # the predicate `test_nb` runs cells with
    cfg = _cfg()
    sys.path.insert(0, str(ROOT))
    nb = read_nb(src)
    NBProcessor(nb=nb, procs=[populate_language, add_show_docs], rm_directives=False, process=True)
    show_docs = {id(c) for c in nb.cells if getattr(c, 'has_sd', False)}
    for c in nb.cells:
        if id(c) in show_docs: c.source = '_docs_show_doc(' + c.source[len('show_doc('):]
    k = CaptureShell(src, profile=bool(cfg.get('exec_profile')))
    k.run_cell('from nbdev.showdoc import show_doc\n' + _SHOW_DOC_SAFE)
    ok, t0 = True, time.time()
    try:
        with working_directory(src.parent):
            k.run_all(nb, exc_stop=True, preproc=_skip_cell(nb, cfg.tst_flags.split()), cell_timeout=int(cfg.get('cell_timeout', 600)) or None)
    except BaseException as e:
        ok = False
        sys.stderr.write(f'{src.relative_to(ROOT)}: {type(e).__name__}: {e}\n{k.prettytb(fname=src) or ""}\n')
    for c in nb.cells:
        if c.cell_type != 'code': continue
        _static_outputs(c)
        if id(c) in show_docs or re.match(r'\s*(_docs_)?show_doc\(', c.source or ''): c.metadata.setdefault('tags', []).append('remove-input')
        c.pop('has_sd', None)
        c.metadata.pop('execution', None)  # execnb's timings: a float where nbformat's schema wants strings
        c.outputs = [o for o in c.get('outputs', []) if o.get('output_type') != 'stream' or o['text'].strip()]  # a progress bar leaves nothing
    k.close()
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, dest)
    nb = read_nb(dest)  # outputs as nbformat stores them (joined text), which nbdev's processors expect
    for c in nb.cells:
        if 'remove-input' in c.metadata.get('tags', []): _clean_show_doc(c)
    NBProcessor(nb=nb, procs=[_hide_nbdev, hide_, _quarto_options, hide_line, filter_stream_, strip_ansi, rm_header_dash, clean_magics],
                rm_directives=False, process=True)
    for c in nb.cells:
        if c.cell_type == 'code': c.remove_directives()
    nb.metadata['fpt_kit_docs'] = dict(key=key if ok else 'failed', seconds=round(time.time() - t0, 1), ok=ok)
    write_nb(nb, dest)
    return ok

def _executed_key(dest:Path)->str|None:
    try: return json.loads(dest.read_text()).get('metadata', {}).get('fpt_kit_docs', {}).get('key')
    except (OSError, ValueError): return None

def execute_all(rels:list, nbs_path:Path, work:Path, jobs:int, cache:bool)->dict:
    "Execute notebooks `rels` into `work/exec`, `jobs` at a time, each in a fresh process; returns {rel: (ok, seconds, reused)}"
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'PLOTLY_RENDERER': 'plotly_mimetype', 'PYTHONDONTWRITEBYTECODE': '1',
           'PYTHONPATH': os.pathsep.join([str(ROOT), *filter(None, [os.environ.get('PYTHONPATH')])])}
    env.pop('IN_TEST', None)  # a docs build is not a test run: cells that only run under the test suite stay quiet
    def run(rel):
        src, dest = nbs_path/rel, work/'exec'/rel
        key = _source_key(src)
        if cache and _executed_key(dest) == key: return rel, (True, 0., True)
        t0 = time.time()
        r = subprocess.run([sys.executable, __file__, '_exec', str(src), str(dest), key], env=env, cwd=ROOT)
        ok = r.returncode == 0 and dest.exists()
        print(f"  {'ok  ' if ok else 'FAIL'} {rel} ({time.time() - t0:.0f} s)", flush=True)
        return rel, (ok, time.time() - t0, False)
    with ThreadPoolExecutor(max(1, jobs)) as ex: return dict(ex.map(run, rels))

# ---------------------------------------------------------------- stage 2: the Sphinx sources

def api_modules()->list:
    "The library's modules, as nbdev's index `_modidx` lists them (private ones, `_` prefixed, left out)"
    from fpt_kit._modidx import d
    return sorted(m for m in d['syms'] if not any(p.startswith('_') for p in m.split('.')))

def _public_methods(cls)->list:
    "The public methods and properties a class defines itself (what a reader calls), in source order"
    import inspect
    return [(n, v) for n, v in vars(cls).items() if not n.startswith('_') and (inspect.isfunction(v) or isinstance(v, (property, classmethod, staticmethod)))]

def _show_doc_md(obj, name:str)->str:
    "nbdev's `show_doc` markdown (fastcore's renderer, without nbdev's source link); a plain signature where an annotation cannot be evaluated"
    import warnings
    from fastcore.docments import MarkdownRenderer
    try: return _with_hints(lambda: MarkdownRenderer(obj, name=name)._repr_markdown_(), obj)
    except NameError as e:
        warnings.warn(f'docs: {name}: {e}; shown without its parameter comments')
        return _plain_signature_md(obj, name)

def _annotation(a)->str:
    import inspect
    return '' if a is inspect.Signature.empty else a if isinstance(a, str) else inspect.formatannotation(a)

def _property_md(prop:property, name:str)->str:
    "A property as a reader uses it: an attribute with its type (read-only unless it has a setter), and its docstring"
    import inspect
    ret = _annotation(inspect.signature(prop.fget).return_annotation) if prop.fget else ''
    kind = 'property' if prop.fset is None else 'property, settable'
    doc = inspect.getdoc(prop.fget) if prop.fget else None
    return f'```python\n{name}' + (f': {ret}' if ret else '') + f'  # {kind}\n```' + (f'\n\n*{doc}*' if doc else '')

def api_page(modname:str, nb_page:str|None)->str:
    "Markdown of module `modname`'s API page: nbdev's `show_doc` of each name in `__all__` (methods of classes too)"
    import importlib, inspect
    mod = importlib.import_module(modname)
    summary = (inspect.getdoc(mod) or '').split('\n\n')[0].split('\nDocs:')[0].strip()
    out = [f'# {modname}\n', f'{summary}\n' if summary else '']
    if nb_page: out.append(f'The notebook that defines this module, with its explanations and examples: [{nb_page}](../{nb_page}.ipynb).\n')
    for name in getattr(mod, '__all__', []):
        obj = getattr(mod, name)
        if not (inspect.isclass(obj) or callable(obj)):
            out.append(f'## {name}\n\n```python\n{name} = {obj!r}\n```\n')
            continue
        out.append(f'{"#" * 2} {name}\n\n' + _show_doc_md(obj, name) + '\n')
        if inspect.isclass(obj):
            for mname, m in _public_methods(obj):
                md = _property_md(m, f'{name}.{mname}') if isinstance(m, property) else _show_doc_md(getattr(m, '__func__', m), f'{name}.{mname}')
                out.append(f'### {name}.{mname}\n\n' + md + '\n')
    return '\n'.join(out)

def api_index(modules:list)->dict:
    """{name: (module, anchor)} of every entry the API pages have: a public name under the module that defines it, a
    class's methods as `Class.method` (and as `method` where no other entry has that name), a module under its own
    name; `fpt_kit.x.Name` too. A short name with two entries is left out (ambiguous), its qualified form kept"""
    import importlib, inspect
    from mdit_py_plugins.anchors.index import slugify  # the slugs myst gives headings (conf.py: myst_heading_anchors)
    found = {}
    def add(key, m, heading): found.setdefault(key, set()).add((m, slugify(heading) if heading else ''))
    for m in modules:
        mod = importlib.import_module(m)
        add(m, m, None)
        for name in getattr(mod, '__all__', []):
            obj = getattr(mod, name)
            if getattr(obj, '__module__', m) != m and (inspect.isclass(obj) or callable(obj)): continue  # a re-export: linked where it is defined
            add(name, m, name); add(f'{m}.{name}', m, name)
            if inspect.isclass(obj):
                for mname, _ in _public_methods(obj):
                    for key in (f'{name}.{mname}', f'{m}.{name}.{mname}', mname): add(key, m, f'{name}.{mname}')  # `evaluate`: learn.evaluate or the CLI's? Not linked
    return {k: next(iter(v)) for k, v in found.items() if len(v) == 1}

_CODE_SPAN = re.compile(r'(?<![\[`])`([A-Za-z_][\w.]*)(\(\))?`(?![`\]])')

def linkify(md:str, index:dict, page:str)->str:
    """Markdown `md` of docs page `page` (e.g. 'tutorials/walkthrough') with each backticked name that has an API entry
    made a link to it, as nbdev's doc links do; fenced code, headings and existing links are left as they are"""
    up = '../' * page.count('/')
    out, fence = [], None
    for line in md.split('\n'):
        s = line.lstrip()
        if fence:
            if s.startswith(fence): fence = None
        elif s.startswith(('```', '~~~')): fence = s[:3]
        elif not s.startswith('#'):
            def link(mt):
                hit = index.get(mt.group(1))
                if hit is None: return mt.group(0)
                mod, anchor = hit
                target = f'{up}api/{mod}.md' if f'api/{mod}' != page else ''
                return f'[{mt.group(0)}]({target}#{anchor})' if anchor else f'[{mt.group(0)}]({target or f"{mod}.md"})'
            line = _CODE_SPAN.sub(link, line)
        out.append(line)
    return '\n'.join(out)

def _linkify_nb(nb, index:dict, page:str):
    "Doc links in a notebook's markdown cells and in its show_doc outputs (markdown)"
    for c in nb.cells:
        if c.cell_type == 'markdown': c.source = linkify(c.source, index, page)
        for o in c.get('outputs', []):
            if 'text/markdown' in o.get('data', {}):
                t = o['data']['text/markdown']
                o['data']['text/markdown'] = linkify(''.join(t) if isinstance(t, list) else t, index, page)

def _nb_of_module(nbs_path:Path, rels:list)->dict:
    "{module name: notebook page} from each notebook's `#| default_exp`"
    res = {}
    for rel in rels:
        m = re.search(r'#\|\s*default_exp\s+(\S+)', (nbs_path/rel).read_text())
        if m: res[f'fpt_kit.{m.group(1).strip(chr(34)).strip()}'] = str(page_name(rel))
    return res

def _toctree(caption:str, entries:list)->str:
    return f'```{{toctree}}\n:caption: {caption}\n:hidden:\n:maxdepth: 1\n\n' + '\n'.join(entries) + '\n```\n'

def write_sources(rels:list, nbs_path:Path, work:Path, modules:list)->Path:
    "The Sphinx source folder: executed notebooks under nbdev's page names, API pages, navigation, conf.py, static files"
    from fastcore.nbio import read_nb, write_nb, mk_cell
    src = work/'src'
    if src.exists(): shutil.rmtree(src)
    (src/'_static').mkdir(parents=True)
    pages = {rel: page_name(rel) for rel in rels}
    index = api_index(modules)
    for rel, page in pages.items():
        (src/page).parent.mkdir(parents=True, exist_ok=True)
        nb = read_nb(work/'exec'/rel); _linkify_nb(nb, index, str(page)); write_nb(nb, src/f'{page}.ipynb')
    nb_pages = _nb_of_module(nbs_path, all_notebooks(nbs_path))
    (src/'api').mkdir()
    for m in modules:
        page = nb_pages.get(m)
        (src/'api'/f'{m}.md').write_text(linkify(api_page(m, page if page and Path(page) in pages.values() else None), index, f'api/{m}'))
    rows = '\n'.join(f'| [{m}]({m}.md) | {_first_line(m)} |' for m in modules)
    (src/'api'/'index.md').write_text(f'# API reference\n\nOne page per module: every public name with its signature, and what each parameter is.\n\n'
                                      f'| module | what it holds |\n|---|---|\n{rows}\n\n' + _toctree('Modules', [f'{m}' for m in modules]))
    tutorials = [str(p) for r, p in pages.items() if r.parts[0] == 'tutorials']
    module_nbs = [str(p) for r, p in pages.items() if len(r.parts) == 1 and str(p) != 'index']
    nav = ''.join([_toctree('Tutorials', tutorials) if tutorials else '', _toctree('Notebooks', module_nbs) if module_nbs else '',
                   _toctree('API reference', ['api/index'])])
    front = src/'index.ipynb'
    if front.exists():
        nb = read_nb(front); nb.cells.append(mk_cell(nav, 'markdown')); write_nb(nb, front)
    else: (src/'index.md').write_text(f'# {_cfg().lib_name}\n\n{nav}')
    shutil.copy(DOCS/'conf.py', src/'conf.py')
    for f in (DOCS/'_static').glob('*'): shutil.copy(f, src/'_static'/f.name)
    shutil.copytree(DOCS/'_templates', src/'_templates')
    copy_assets(src/'_static')
    return src

def _first_line(modname:str)->str:
    import importlib, inspect
    return ((inspect.getdoc(importlib.import_module(modname)) or '').strip().splitlines() or [''])[0]

def copy_assets(static:Path):
    "plotly.min.js from the installed plotly, MathJax 3 (SVG output: one file, fonts included) from django-static-mathjax"
    import importlib.resources as res
    shutil.copy(res.files('plotly')/'package_data'/'plotly.min.js', static/'plotly.min.js')
    (static/'mathjax').mkdir(exist_ok=True)
    shutil.copy(res.files('mathjax')/'static'/'mathjax'/'es5'/'tex-svg.js', static/'mathjax'/'tex-svg.js')

# ---------------------------------------------------------------- stage 3: the site

def build_site(src:Path, out:Path, work:Path, jobs:int)->int:
    "sphinx-build the sources into `work/html`, then copy that to `out` (replaced); returns sphinx-build's exit status"
    html_dir = work/'html'  # myst-nb writes its jupyter_execute/ beside the output folder: inside `work`, not beside _docs/
    if html_dir.exists(): shutil.rmtree(html_dir)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-j', str(max(1, jobs)), '-d', str(work/'doctrees'), str(src), str(html_dir)]
    rc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, 'PYTHONPATH': str(ROOT)}).returncode
    if rc == 0:
        if out.exists(): shutil.rmtree(out)
        shutil.copytree(html_dir, out)
    return rc

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--nbs', nargs='*', help='notebooks to include, relative to nbs/ (default: all)')
    p.add_argument('--out', default=None, help='site folder (default: the doc_path of pyproject/settings, _docs)')
    p.add_argument('--work', default=str(ROOT/'build'/'docs'), help='executed notebooks and Sphinx sources')
    p.add_argument('--jobs', type=int, default=int(os.environ.get('DOCS_JOBS', 1)), help='notebooks executed at once (default 1)')
    p.add_argument('--no-cache', action='store_true', help='execute every notebook again')
    p.add_argument('--keep-going', action='store_true', help='build the site even if notebooks fail (their pages show the error)')
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # the API pages document this checkout's fpt_kit, whatever the environment's install points at
    cfg = _cfg()
    nbs_path, work = Path(cfg.nbs_path), Path(a.work).resolve()
    out = Path(a.out).resolve() if a.out else ROOT/(cfg.get('doc_path') or '_docs')
    rels = [Path(r) for r in a.nbs] if a.nbs else all_notebooks(nbs_path)
    for r in rels:
        if not (nbs_path/r).is_file(): p.error(f'no notebook {nbs_path/r}: give paths relative to {nbs_path}')
    t0 = time.time()
    print(f'executing {len(rels)} notebook(s) into {work/"exec"}', flush=True)
    res = execute_all(rels, nbs_path, work, a.jobs, not a.no_cache)
    failed = [str(r) for r, (ok, _, _) in res.items() if not ok]
    t1 = time.time()
    print(f'executed in {t1 - t0:.0f} s ({sum(v[2] for v in res.values())} reused)', flush=True)
    if failed and not a.keep_going:
        sys.exit(f'docs: {len(failed)} notebook(s) failed: {", ".join(failed)} (their errors are above; --keep-going builds anyway)')
    src = write_sources([r for r in rels if (work/'exec'/r).exists()], nbs_path, work, api_modules())
    rc = build_site(src, out, work, 1)
    if rc: sys.exit(f'docs: sphinx-build failed ({rc})')
    print(f'site in {out} ({time.time() - t1:.0f} s for the site; {time.time() - t0:.0f} s in all)', flush=True)
    if failed: sys.exit(f'docs: built, but {len(failed)} notebook(s) failed: {", ".join(failed)}')

if __name__ == '__main__':
    if sys.argv[1:2] == ['_exec']: sys.exit(0 if execute_notebook(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]) else 1)
    main()
