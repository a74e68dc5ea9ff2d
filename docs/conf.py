# Sphinx configuration of the docs site; docs/build.py copies it into the generated source folder (build/docs/src)
# beside the executed notebooks and the API pages. Everything the pages load is a file of the site: no CDN.
project = 'fpt_kit'
html_title = 'fpt_kit'
copyright = 'fpt_kit developers, Apache-2.0'
extensions = ['myst_nb']
root_doc = 'index'
exclude_patterns = ['_build', '**.ipynb_checkpoints']

# The notebooks were executed by docs/build.py (nbdev's runner); myst-nb only reads them
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'   # show_doc's markdown outputs, parsed as the notebooks' own markdown is
nb_ipywidgets_js = {}                # myst-nb would add require.js and the widget manager from CDNs: widgets are static snapshots here
nb_output_stderr = 'remove'           # stderr (progress bars, library warnings) is not part of the lesson
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'attrs_inline', 'deflist']
myst_heading_anchors = 3             # `#frozenbackbone` anchors, as nbdev's pages have
myst_dmath_double_inline = True
suppress_warnings = ['myst.header', 'misc.highlighting_failure']

# MathJax 3 from the django-static-mathjax wheel (only MathJax's files, no Django), SVG output: one file, fonts inside
mathjax_path = 'mathjax/tex-svg.js'

html_theme = 'furo'
html_static_path = ['_static']
templates_path = ['_templates']
html_css_files = ['fpt_kit.css']
html_theme_options = {'navigation_with_keys': True}
html_show_sourcelink = False
html_copy_source = False


def _plotly_on_pages_with_figures(app, pagename, templatename, context, doctree):
    "plotly.min.js (from the plotly package) in the head of the pages that draw a plotly figure (_templates/page.html)"
    context['fpt_plotly'] = 'Plotly.newPlot' in context.get('body', '')


def setup(app):
    app.connect('html-page-context', _plotly_on_pages_with_figures)
