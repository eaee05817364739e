"""The docs stage: the documentation site's generated pages, from the same plan as the modules.

``make docs`` runs mkdocs, whose hook (:mod:`codegen.site.hook`) asks this package for one page
per endpoint (load -> normalise -> plan, then :mod:`codegen.site.pages`), a page per category,
their index, and an API reference page per public module of the runtime. Nothing is written to
the repository: the pages exist in the build only.

- :mod:`codegen.site.text`: document text made safe for Markdown and HTML (the one escaping path).
- :mod:`codegen.site.fields`: each field's type, allowed values, range, default, file or not.
- :mod:`codegen.site.example`: the example call, from the document's own examples.
- :mod:`codegen.site.pages`: the pages' Markdown.
- :mod:`codegen.site.build`: every page, over a process pool.

It lives in a subpackage so that it is no part of the generator's fingerprint: a change to the
site never makes ``generated/`` stale.
"""
