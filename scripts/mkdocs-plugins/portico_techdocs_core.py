"""The `techdocs-core` MkDocs plugin's part that TechDocs sites rely on, for a machine without PyPI.

Sites made for Backstage name `techdocs-core` in their mkdocs.yml, and MkDocs refuses to build a site whose
plugin is not installed; the real plugin comes only from PyPI. This one gives such sites the Material theme
and the Markdown extensions the real one turns on, those installed here (Debian's mkdocs-material brings
pymdown-extensions). Where the real plugin is installed, MkDocs takes it: it comes later on the path.
"""

import importlib.util

from mkdocs.plugins import BasePlugin
from mkdocs.theme import Theme
from mkdocs.utils import get_theme_names

# Extension names and their settings.
EXTENSIONS = {
    "abbr": {},
    "admonition": {},
    "attr_list": {},
    "def_list": {},
    "footnotes": {},
    "md_in_html": {},
    "tables": {},
    "toc": {"permalink": True},
    "pymdownx.betterem": {},
    "pymdownx.caret": {},
    "pymdownx.details": {},
    "pymdownx.highlight": {},
    "pymdownx.inlinehilite": {},
    "pymdownx.magiclink": {},
    "pymdownx.mark": {},
    "pymdownx.smartsymbols": {},
    "pymdownx.superfences": {},
    "pymdownx.tabbed": {"alternate_style": True},
    "pymdownx.tasklist": {"custom_checkbox": True},
    "pymdownx.tilde": {},
}


def installed(extension):
    package = extension.split(".")[0] if "." in extension else "markdown"
    return importlib.util.find_spec(package) is not None


class TechDocsCore(BasePlugin):
    def on_config(self, config):
        # Without mkdocs-material the site builds in the theme it names rather than not at all.
        if config["theme"].name != "material" and "material" in get_theme_names():
            config["theme"] = Theme(name="material")
        for name, settings in EXTENSIONS.items():
            if name not in config["markdown_extensions"] and installed(name):
                config["markdown_extensions"].append(name)
                config["mdx_configs"].setdefault(name, settings)
        return config
