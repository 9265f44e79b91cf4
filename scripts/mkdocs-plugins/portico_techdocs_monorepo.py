"""The `monorepo` MkDocs plugin's includes, which the techdocs-core image has and only PyPI brings: one
TechDocs site from the docs of many folders of a repository.

A nav entry `Payments: '!include ./payments/mkdocs.yml'` puts that folder's site (its docs and its nav, or
all its pages when it has none) under a folder named by its `site_name` (as is when it is letters, digits,
`_`, `-` and `/`, else made a slug); `Services: '*include ./services/*/mkdocs.yml'` does it for every match,
in order of path, each titled by its site name. Included sites may include others. Every included file must
be inside the site's own directory, and is read as plain YAML: no Python tags, no `INHERIT`, since Backstage
checks only the site's own mkdocs.yml.
"""

import glob
import os
import re
import shutil
import tempfile
from urllib.parse import urlsplit

import yaml
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.utils import get_yaml_loader

INCLUDE = re.compile(r"^(!|\*)include\s+(.+?)\s*$")
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_\-/]+$")
SAFE_LOADER = get_yaml_loader(yaml.SafeLoader)


def folder_name(site_name):
    if PLAIN_NAME.match(site_name):
        return site_name.strip("/")
    return re.sub(r"[^a-z0-9]+", "-", site_name.lower()).strip("-")


class Monorepo(BasePlugin):
    merged = None

    def on_config(self, config):
        self.config_file = os.path.realpath(config.config_file_path)
        self.root = os.path.dirname(self.config_file)
        self.root_docs = os.path.relpath(os.path.realpath(config["docs_dir"]), self.root)
        # Each merged page that came from an included site: its path from the site's directory.
        self.sources = {}
        if not config["nav"]:
            return config
        self.merged = tempfile.mkdtemp(prefix="techdocs-monorepo-")
        try:
            shutil.copytree(config["docs_dir"], self.merged, dirs_exist_ok=True)
            config["nav"] = self._nav(config["nav"], self.root, "", ())
        except BaseException:
            self._remove_merged()
            raise
        config["docs_dir"] = self.merged
        return config

    def on_page_context(self, context, page, config, nav):
        # The edit link of an included page points at its file, not at the root's docs folder.
        source = self.sources.get(page.file.src_uri)
        if source and page.edit_url:
            merged = f"{self.root_docs}/{page.file.src_uri}"
            page.edit_url = (
                page.edit_url[: -len(merged)] + source if page.edit_url.endswith(merged) else None
            )
        return context

    def on_post_build(self, config):
        self._remove_merged()

    def on_build_error(self, error):
        self._remove_merged()

    def _remove_merged(self):
        if self.merged:
            shutil.rmtree(self.merged, ignore_errors=True)
            self.merged = None

    def _nav(self, entries, site_dir, prefix, including):
        resolved = []
        for entry in entries:
            if isinstance(entry, dict):
                resolved.append(
                    {title: self._value(value, site_dir, prefix, including) for title, value in entry.items()}
                )
                continue
            include = INCLUDE.match(entry) if isinstance(entry, str) else None
            if include and include.group(1) == "*":
                resolved.extend(self._include_all(include.group(2), site_dir, prefix, including))
            else:
                resolved.append(self._value(entry, site_dir, prefix, including))
        return resolved

    def _value(self, value, site_dir, prefix, including):
        if isinstance(value, list):
            return self._nav(value, site_dir, prefix, including)
        if not isinstance(value, str):
            return value
        include = INCLUDE.match(value)
        if include and include.group(1) == "!":
            return self._include(os.path.join(site_dir, include.group(2)), prefix, including)[1]
        if include:
            return self._include_all(include.group(2), site_dir, prefix, including)
        link = urlsplit(value)
        # A page of an included site lives under its folder; links elsewhere stay as written.
        if prefix and not (link.scheme or link.netloc or value.startswith("/")):
            return f"{prefix}{value}"
        return value

    def _include_all(self, pattern, site_dir, prefix, including):
        return [
            dict([self._include(match, prefix, including)])
            for match in sorted(glob.glob(os.path.join(site_dir, pattern), recursive=True))
        ]

    def _include(self, config_file, prefix, including):
        """Copies an included site's docs into the merged docs; returns its name and nav."""
        config_file = self._inside(config_file)
        shown = self._shown(config_file)
        if config_file in including or config_file == self.config_file:
            raise PluginError(f"monorepo: {shown} includes itself")
        if not os.path.isfile(config_file):
            raise PluginError(f"monorepo: {shown} does not exist")
        try:
            with open(config_file, encoding="utf-8") as file:
                site = yaml.load(file, Loader=SAFE_LOADER) or {}
        except yaml.YAMLError as error:
            raise PluginError(f"monorepo: {shown} could not be read: {error}") from error
        if "INHERIT" in site:
            raise PluginError(f"monorepo: {shown} uses INHERIT, which an included site may not")
        name = site.get("site_name")
        folder = folder_name(name) if isinstance(name, str) else ""
        if not folder or ".." in folder.split("/"):
            raise PluginError(f"monorepo: {shown} needs a site_name, which names its folder in the site")
        site_dir = os.path.dirname(config_file)
        docs = self._inside(os.path.join(site_dir, site.get("docs_dir", "docs")))
        if not os.path.isdir(docs):
            raise PluginError(f"monorepo: {shown} has no docs folder {self._shown(docs)}")
        inner = f"{prefix}{folder}/"
        target = os.path.join(self.merged, inner)
        if any(path.startswith(inner) for path in self.sources):
            raise PluginError(f"monorepo: two included sites are named {name}")
        shutil.copytree(docs, target, dirs_exist_ok=True)
        pages = []
        for directory, _, files in os.walk(docs):
            for file in files:
                path = os.path.join(directory, file)
                merged = os.path.relpath(path, docs).replace(os.sep, "/")
                self.sources[f"{inner}{merged}"] = os.path.relpath(path, self.root).replace(os.sep, "/")
                if merged.endswith(".md"):
                    pages.append(merged)
        if site.get("nav"):
            return name, self._nav(site["nav"], site_dir, inner, including + (config_file,))
        # As MkDocs orders a folder's pages: its index first.
        pages.sort(key=lambda page: (page not in ("index.md", "README.md"), page))
        return name, [f"{inner}{page}" for page in pages]

    def _inside(self, path):
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.root]) != self.root:
            raise PluginError(f"monorepo: {self._shown(path)} is outside the site's directory")
        return real

    def _shown(self, path):
        return os.path.relpath(path, self.root)
