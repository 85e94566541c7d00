"""A small, self-contained fake Hugging Face Hub server for tests (standard library only).

The machine that runs the test suite has no internet access, so everything that talks to the Hub
(``push_to_hub``, ``hf_hub_download``, ``load_dataset("user/ds")``, model cards, ...) is tested
against this server, bound to ``127.0.0.1`` on a free port.

Usage: ``tests/conftest.py`` registers this module as a pytest plugin, so every test module
gets the ``fake_hub`` fixture without importing it::

    @pytest.mark.hub
    def test_something(fake_hub):
        HfApi().create_repo("user/model")
        ...
        assert fake_hub.files("model", "user/model")["README.md"] == b"..."

The fixture starts the server, points ``huggingface_hub`` / ``datasets`` at it (environment variables
*and* the module constants they read at import time), gives them a fresh cache under ``tmp_path``
and restores everything afterwards.

Storage: one folder per (repo type, repo id) under the storage directory holds the files of the
``main`` branch at their paths (for easy inspection); file contents are kept in a
content-addressed object store next to it, and every repo keeps a linear commit history (each
commit a 40-hex oid and a full snapshot of the tree), so any known commit oid is a valid
revision. New repos start with an initial commit containing the Hub's default ``.gitattributes``,
like on the real Hub.

Every request is recorded in ``FakeHub.requests`` (method, path, headers); requests that match no
route get a JSON 404 and are listed in ``FakeHub.unhandled`` (``"METHOD /path"``). Write routes
require an ``Authorization: Bearer ...`` header and answer 401 without one.

The server itself needs only the standard library (PyYAML, when installed, is used to fill
``cardData`` in repo info and to validate README front matter in ``/api/validate-yaml``).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

__all__ = ["DEFAULT_GITATTRIBUTES", "FakeHub", "RecordedRequest", "fake_hub_fixture"]

# Default `.gitattributes` of a new repo on the Hub (LFS rules).
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in [
        "*.7z",
        "*.arrow",
        "*.bin",
        "*.bz2",
        "*.ckpt",
        "*.ftz",
        "*.gz",
        "*.h5",
        "*.joblib",
        "*.lfs.*",
        "*.mlmodel",
        "*.model",
        "*.msgpack",
        "*.npy",
        "*.npz",
        "*.onnx",
        "*.ot",
        "*.parquet",
        "*.pb",
        "*.pickle",
        "*.pkl",
        "*.pt",
        "*.pth",
        "*.rar",
        "*.safetensors",
        "saved_model/**/*",
        "*.tar.*",
        "*.tar",
        "*.tflite",
        "*.tgz",
        "*.wasm",
        "*.xz",
        "*.zip",
        "*.zst",
        "*tfevents*",
    ]
)

_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_TRUE = {"1", "true", "yes", "on"}

_API = r"^/api/(?P<type>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+?)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), name)
    for m, p, name in [
        ("GET", r"^/api/whoami-v2$", "whoami"),
        ("POST", r"^/api/repos/create$", "create_repo"),
        ("POST", r"^/api/repos/delete$", "delete_repo"),
        ("DELETE", r"^/api/repos/delete$", "delete_repo"),
        ("POST", r"^/api/validate-yaml$", "validate_yaml"),
        ("GET", _API + r"$", "repo_info"),
        ("GET", _API + r"/revision/(?P<rev>[^/]+)$", "repo_info"),
        ("GET", _API + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$", "tree"),
        ("POST", _API + r"/paths-info/(?P<rev>[^/]+)$", "paths_info"),
        ("POST", _API + r"/preupload/(?P<rev>[^/]+)$", "preupload"),
        ("POST", _API + r"/commit/(?P<rev>[^/]+)$", "commit"),
        ("GET", _API + r"/commits/(?P<rev>[^/]+)$", "list_commits"),
        ("GET", _API + r"/refs$", "refs"),
        ("POST", _API + r"/branch/(?P<branch>[^/]+)$", "create_branch"),
        ("DELETE", _API + r"/branch/(?P<branch>[^/]+)$", "delete_branch"),
        (
            "POST",
            r"^/(?:(?P<prefix>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+?)\.git/info/lfs/objects/batch$",
            "lfs_batch",
        ),
        (
            "POST",
            r"^/(?:(?P<prefix>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+?)\.git/info/lfs/objects/verify$",
            "lfs_verify",
        ),
        ("PUT", r"^/__fake_lfs__/upload/(?P<oid>[0-9a-f]{64})$", "lfs_upload"),
        (
            "GET",
            r"^/(?:(?P<prefix>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$",
            "resolve",
        ),
        (
            "HEAD",
            r"^/(?:(?P<prefix>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$",
            "resolve",
        ),
    ]
]

# Routes that need an `Authorization: Bearer ...` header (401 otherwise).
_WRITE_ROUTES = {
    "whoami",
    "create_repo",
    "delete_repo",
    "preupload",
    "commit",
    "create_branch",
    "delete_branch",
    "lfs_batch",
    "lfs_verify",
}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


def _normalize_repo_type(repo_type: str | None) -> str:
    repo_type = repo_type or "model"
    repo_type = _REPO_TYPES.get(repo_type, repo_type)
    if repo_type not in _URL_PREFIX:
        raise ValueError(f"Unsupported repo type: {repo_type!r}")
    return repo_type


class HubError(Exception):
    """Raised by route handlers; turned into a JSON error response."""

    def __init__(self, status: int, message: str, code: str | None = None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class _Blob:
    sha256: str
    size: int
    lfs: bool

    @property
    def pointer(self) -> bytes:
        return _lfs_pointer(self.sha256, self.size)

    @property
    def git_oid(self) -> str:
        # For an LFS file, the git blob is the pointer file (this is what the Hub reports as `oid`).
        return _git_blob_oid(self.pointer) if self.lfs else self._content_oid

    @property
    def etag(self) -> str:
        # Regular file: git blob sha1. LFS file: sha256 of the content.
        return self.sha256 if self.lfs else self._content_oid

    _content_oid: str = field(default="", compare=False)


@dataclass
class _Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    date: str
    tree: dict[str, _Blob]


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    folder: Path
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:24])
    commits: dict[str, _Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    """One request received by the fake Hub."""

    method: str
    path: str  # raw request target, including the query string
    headers: dict[str, str]
    body_size: int = 0

    def header(self, name: str, default: str | None = None) -> str | None:
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return default

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


class FakeHub:
    """In-process fake of the Hugging Face Hub HTTP API (see module docstring).

    Args:
        storage_dir: where repos and objects are stored (a temporary folder if None; removed by
            `stop()` in that case only).
        username: namespace used when a repo is created without an organization, and `whoami`.
        lfs_threshold: files bigger than this (bytes) are uploaded through LFS, like the Hub's
            10 MB rule. Files matching the repo's `.gitattributes` LFS rules and binary files
            (a NUL byte in the sample) are LFS regardless of size.
    """

    def __init__(
        self,
        storage_dir: str | os.PathLike | None = None,
        *,
        username: str = "user",
        lfs_threshold: int = 10 * 1024 * 1024,
    ):
        self._own_storage = storage_dir is None
        self.storage_dir = Path(storage_dir or tempfile.mkdtemp(prefix="fake-hub-"))
        self.username = username
        self.lfs_threshold = lfs_threshold
        self.requests: list[RecordedRequest] = []
        self.unhandled: list[str] = []
        self.lfs_objects: set[str] = set()  # sha256 of objects uploaded through LFS
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._pending_uploads: dict[str, tuple[str, int]] = {}  # signature -> (sha256, size)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._objects_dir = self.storage_dir / "objects"
        self._repos_dir = self.storage_dir / "repos"
        self._commit_counter = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeHub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        if self._server is not None:
            return self
        self._objects_dir.mkdir(parents=True, exist_ok=True)
        self._repos_dir.mkdir(parents=True, exist_ok=True)
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_storage:
            shutil.rmtree(self.storage_dir, ignore_errors=True)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ inspection helpers

    def files(
        self, repo_type: str | None, repo_id: str, revision: str = "main"
    ) -> dict[str, bytes]:
        """All files of a repo at `revision` (default: head of `main`), as {path: content}."""
        with self._lock:
            repo = self._get_repo(_normalize_repo_type(repo_type), repo_id)
            commit = self._resolve(repo, revision)
            return {path: self._read(blob) for path, blob in sorted(commit.tree.items())}

    def repo_exists(self, repo_type: str | None, repo_id: str) -> bool:
        return (_normalize_repo_type(repo_type), repo_id) in self._repos

    def commits(self, repo_type: str | None, repo_id: str, branch: str = "main") -> list[str]:
        """Commit oids of `branch`, oldest first."""
        with self._lock:
            repo = self._get_repo(_normalize_repo_type(repo_type), repo_id)
            return [c.oid for c in reversed(list(self._history(repo, repo.refs[branch])))]

    def is_lfs(
        self, repo_type: str | None, repo_id: str, path: str, revision: str = "main"
    ) -> bool:
        """Whether `path` is stored as an LFS file at `revision`."""
        with self._lock:
            repo = self._get_repo(_normalize_repo_type(repo_type), repo_id)
            return self._resolve(repo, revision).tree[path].lfs

    def requests_matching(self, pattern: str) -> list[RecordedRequest]:
        """Recorded requests whose `"METHOD /path"` line matches the regex `pattern`."""
        rx = re.compile(pattern)
        return [r for r in list(self.requests) if rx.search(r.line)]

    # ------------------------------------------------------------------ seeding helpers

    def create_repo(
        self, repo_id: str, repo_type: str | None = "model", *, private: bool = False
    ) -> None:
        """Create a repo directly (no HTTP), with the usual initial `.gitattributes` commit."""
        with self._lock:
            self._create_repo(_normalize_repo_type(repo_type), repo_id, private)

    def add_files(
        self,
        repo_id: str,
        files: dict[str, bytes | str],
        repo_type: str | None = "model",
        *,
        message: str = "Seed files",
        lfs: bool | None = None,
    ) -> str:
        """Commit files directly (no HTTP) on `main`, creating the repo if needed. Returns the oid.

        `lfs=None` applies the same LFS rules as the preupload route.
        """
        rtype = _normalize_repo_type(repo_type)
        with self._lock:
            if (rtype, repo_id) not in self._repos:
                self._create_repo(rtype, repo_id, False)
            repo = self._repos[(rtype, repo_id)]
            tree = dict(repo.commits[repo.refs["main"]].tree)
            for path, content in files.items():
                data = content.encode() if isinstance(content, str) else content
                as_lfs = self._wants_lfs(tree, path, len(data), data[:512]) if lfs is None else lfs
                tree[path] = self._store(data, lfs=as_lfs)
            return self._new_commit(repo, "main", tree, message, "").oid

    # ------------------------------------------------------------------ storage internals

    def _repo_folder(self, repo_type: str, repo_id: str) -> Path:
        return self._repos_dir / f"{repo_type}s" / repo_id

    def _get_repo(self, repo_type: str, repo_id: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, f"Repository {repo_type}s/{repo_id} not found", "RepoNotFound")
        return repo

    def _create_repo(self, repo_type: str, repo_id: str, private: bool) -> _Repo:
        if (repo_type, repo_id) in self._repos:
            raise HubError(409, f"You already created this {repo_type} repo: {repo_id}")
        repo = _Repo(
            repo_type=repo_type,
            repo_id=repo_id,
            private=private,
            created_at=_now(),
            folder=self._repo_folder(repo_type, repo_id),
        )
        self._repos[(repo_type, repo_id)] = repo
        blob = self._store(DEFAULT_GITATTRIBUTES.encode(), lfs=False)
        self._new_commit(repo, "main", {".gitattributes": blob}, "initial commit", "")
        return repo

    def _store(self, data: bytes, *, lfs: bool) -> _Blob:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self._objects_dir / sha256
        if not target.exists():
            tmp = target.with_suffix(f".tmp{threading.get_ident()}")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        return _Blob(sha256=sha256, size=len(data), lfs=lfs, _content_oid=_git_blob_oid(data))

    def _read(self, blob: _Blob, start: int = 0, end: int | None = None) -> bytes:
        with open(self._objects_dir / blob.sha256, "rb") as f:
            f.seek(start)
            return f.read() if end is None else f.read(end - start)

    def _resolve(self, repo: _Repo, revision: str) -> _Commit:
        oid = repo.refs.get(revision)
        if oid is None and revision in repo.commits:
            oid = revision
        if oid is None:
            raise HubError(
                404, f"Invalid rev id: {revision} for {repo.repo_id}", "RevisionNotFound"
            )
        return repo.commits[oid]

    def _history(self, repo: _Repo, oid: str | None) -> Iterator[_Commit]:
        while oid is not None:
            commit = repo.commits[oid]
            yield commit
            oid = commit.parent

    def _new_commit(
        self, repo: _Repo, branch: str, tree: dict[str, _Blob], title: str, message: str
    ) -> _Commit:
        parent = repo.refs.get(branch)
        self._commit_counter += 1
        seed = json.dumps(
            [parent, title, message, time.time_ns(), self._commit_counter, sorted(tree)]
        )
        oid = hashlib.sha1(seed.encode()).hexdigest()
        commit = _Commit(
            oid=oid, parent=parent, title=title, message=message, date=_now(), tree=tree
        )
        repo.commits[oid] = commit
        repo.refs[branch] = oid
        if branch == "main":
            self._sync_folder(repo, tree)
        return commit

    def _sync_folder(self, repo: _Repo, tree: dict[str, _Blob]) -> None:
        """Write the files of `main` at their paths in the repo folder."""
        shutil.rmtree(repo.folder, ignore_errors=True)
        repo.folder.mkdir(parents=True, exist_ok=True)
        for path, blob in tree.items():
            target = repo.folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self._objects_dir / blob.sha256, target)

    def _lfs_patterns(self, tree: dict[str, _Blob]) -> list[str]:
        blob = tree.get(".gitattributes")
        if blob is None:
            return []
        patterns = []
        for line in self._read(blob).decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and "filter=lfs" in parts[1:]:
                patterns.append(parts[0])
        return patterns

    def _wants_lfs(self, tree: dict[str, _Blob], path: str, size: int, sample: bytes) -> bool:
        if size > self.lfs_threshold or b"\x00" in sample:
            return True
        name = path.rsplit("/", 1)[-1]
        for pattern in self._lfs_patterns(tree):
            target = path if "/" in pattern else name
            if fnmatch.fnmatchcase(target, pattern):
                return True
        return False

    # ------------------------------------------------------------------ JSON views

    def _tree_entries(
        self, repo: _Repo, commit: _Commit, prefix: str, recursive: bool, expand: bool
    ) -> list[dict[str, Any]]:
        prefix = prefix.strip("/")
        base = prefix + "/" if prefix else ""
        dirs: dict[str, None] = {}
        files: list[str] = []
        for path in sorted(commit.tree):
            if not path.startswith(base):
                continue
            rest = path[len(base) :]
            parts = rest.split("/")
            for i in range(1, len(parts)):
                if not recursive and i > 1:
                    break
                dirs[base + "/".join(parts[:i])] = None
            if recursive or len(parts) == 1:
                files.append(path)
        if prefix and not dirs and not files:
            raise HubError(404, f"Entry not found: {prefix}", "EntryNotFound")
        entries = [self._dir_entry(repo, commit, d, expand) for d in sorted(dirs)]
        entries += [self._file_entry(repo, commit, f, expand) for f in files]
        return entries

    def _file_entry(self, repo: _Repo, commit: _Commit, path: str, expand: bool) -> dict[str, Any]:
        blob = commit.tree[path]
        entry: dict[str, Any] = {
            "type": "file",
            "oid": blob.git_oid,
            "size": blob.size,
            "path": path,
        }
        if blob.lfs:
            entry["lfs"] = {"oid": blob.sha256, "size": blob.size, "pointerSize": len(blob.pointer)}
        if expand:
            entry["lastCommit"] = self._last_commit(repo, commit, lambda t: t.get(path))
        return entry

    def _dir_entry(self, repo: _Repo, commit: _Commit, path: str, expand: bool) -> dict[str, Any]:
        base = path + "/"

        def snapshot(tree: dict[str, _Blob]):
            return tuple(sorted((p, b.git_oid) for p, b in tree.items() if p.startswith(base)))

        oid = hashlib.sha1(repr(snapshot(commit.tree)).encode()).hexdigest()
        entry: dict[str, Any] = {"type": "directory", "oid": oid, "size": 0, "path": path}
        if expand:
            entry["lastCommit"] = self._last_commit(repo, commit, snapshot)
        return entry

    def _last_commit(self, repo: _Repo, commit: _Commit, key) -> dict[str, str]:
        current = key(commit.tree)
        last = commit
        for older in self._history(repo, commit.parent):
            if key(older.tree) != current:
                break
            last = older
        return {"id": last.oid, "title": last.title, "date": last.date}

    def _repo_info(self, repo: _Repo, commit: _Commit, blobs: bool) -> dict[str, Any]:
        siblings = []
        for path, blob in sorted(commit.tree.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling["size"] = blob.size
                sibling["blobId"] = blob.git_oid
                if blob.lfs:
                    sibling["lfs"] = {
                        "size": blob.size,
                        "sha256": blob.sha256,
                        "pointerSize": len(blob.pointer),
                    }
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": repo.uid,
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "usedStorage": sum(b.size for b in commit.tree.values()),
        }
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
        if repo.repo_type == "space":
            info.update({"sdk": "static", "runtime": None, "subdomain": repo.uid})
        card = self._card_data(commit)
        if card is not None:
            info["cardData"] = card
        return info

    def _card_data(self, commit: _Commit) -> dict | None:
        blob = commit.tree.get("README.md")
        if blob is None:
            return None
        match = re.match(
            r"^\s*---\s*\n(.*?)\n---\s*(\n|$)", self._read(blob).decode(errors="replace"), re.S
        )
        if match is None:
            return None
        try:  # optional: the server itself only needs the standard library
            import yaml
        except ImportError:  # pragma: no cover
            return None
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None

    # ------------------------------------------------------------------ route handlers

    def _check_read(self, repo: _Repo, token: str | None) -> None:
        if repo.private and token is None:
            raise HubError(401, "Repository not found", "RepoNotFound")

    def handle_whoami(self, req: _Request) -> Any:
        return {
            "type": "user",
            "id": "0" * 24,
            "name": self.username,
            "fullname": "Fake Hub User",
            "email": None,
            "orgs": [],
            "auth": {
                "type": "access_token",
                "accessToken": {"displayName": "fake-hub", "role": "write"},
            },
        }

    def handle_create_repo(self, req: _Request) -> Any:
        body = req.json()
        repo_type = _normalize_repo_type(body.get("type"))
        name = body.get("name")
        if not name:
            raise HubError(400, "Missing repo name")
        repo_id = f"{body.get('organization') or self.username}/{name}"
        private = bool(body.get("private")) or body.get("visibility") == "private"
        url = f"{self.url}/{_URL_PREFIX[repo_type]}{repo_id}"
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise _ConflictWithBody(
                    {"error": "You already created this repo", "url": url}, "RepoAlreadyExists"
                )
            self._create_repo(repo_type, repo_id, private)
        return {"url": url, "name": repo_id, "id": self._repos[(repo_type, repo_id)].uid}

    def handle_delete_repo(self, req: _Request) -> Any:
        body = req.json()
        repo_type = _normalize_repo_type(body.get("type"))
        repo_id = f"{body.get('organization') or self.username}/{body.get('name')}"
        with self._lock:
            repo = self._get_repo(repo_type, repo_id)
            del self._repos[(repo_type, repo_id)]
            shutil.rmtree(repo.folder, ignore_errors=True)
        return {}

    def handle_validate_yaml(self, req: _Request) -> Any:
        body = req.json()
        content = body.get("content") or ""
        errors = []
        if content.lstrip().startswith("---"):
            match = re.match(r"^\s*---\s*\n(.*?)\n---\s*(\n|$)", content, re.S)
            if match is None:
                errors.append({"message": "Unterminated YAML front matter"})
            else:
                try:
                    import yaml
                except ImportError:  # pragma: no cover
                    yaml = None
                if yaml is not None:
                    try:
                        data = yaml.safe_load(match.group(1))
                        if data is not None and not isinstance(data, dict):
                            errors.append({"message": "YAML metadata must be a mapping"})
                    except yaml.YAMLError as err:
                        errors.append({"message": f"Invalid YAML: {err}"})
        if errors:
            raise _BadRequestWithBody({"errors": errors, "warnings": []})
        return {"errors": [], "warnings": []}

    def _repo_from_match(self, req: _Request, match: dict[str, str]) -> _Repo:
        if "type" in match:
            repo_type = _REPO_TYPES[match["type"]]
        else:
            repo_type = _REPO_TYPES[match["prefix"]] if match.get("prefix") else "model"
        repo = self._get_repo(repo_type, match["repo"])
        self._check_read(repo, req.token)
        return repo

    def handle_repo_info(self, req: _Request, **m: str) -> Any:
        with self._lock:
            repo = self._repo_from_match(req, m)
            commit = self._resolve(repo, unquote(m.get("rev") or "main"))
            return self._repo_info(repo, commit, blobs=req.flag("blobs"))

    def handle_tree(self, req: _Request, **m: str) -> Any:
        with self._lock:
            repo = self._repo_from_match(req, m)
            commit = self._resolve(repo, unquote(m["rev"]))
            path = unquote(m.get("path") or "")
            if path.strip("/") in commit.tree:
                raise HubError(404, f"{path} is a file, not a directory", "EntryNotFound")
            return self._tree_entries(
                repo, commit, path, recursive=req.flag("recursive"), expand=req.flag("expand")
            )

    def handle_paths_info(self, req: _Request, **m: str) -> Any:
        body = req.form_or_json()
        paths = body.get("paths") or []
        paths = [paths] if isinstance(paths, str) else paths
        expand = str(body.get("expand", "false")).lower() in _TRUE
        with self._lock:
            repo = self._repo_from_match(req, m)
            commit = self._resolve(repo, unquote(m["rev"]))
            out = []
            for path in paths:
                path = path.strip("/")
                if path in commit.tree:
                    out.append(self._file_entry(repo, commit, path, expand))
                elif any(p.startswith(path + "/") for p in commit.tree):
                    out.append(self._dir_entry(repo, commit, path, expand))
            return out

    def handle_preupload(self, req: _Request, **m: str) -> Any:
        body = req.json()
        with self._lock:
            repo = self._repo_from_match(req, m)
            commit = self._resolve(repo, unquote(m["rev"]))
            ignore = [
                line.strip()
                for line in (body.get("gitIgnore") or "").splitlines()
                if line.strip() and not line.startswith("#")
            ]
            files = []
            for item in body.get("files", []):
                path = item["path"]
                sample = base64.b64decode(item.get("sample") or "")
                lfs = self._wants_lfs(commit.tree, path, int(item.get("size", 0)), sample)
                existing = commit.tree.get(path)
                oid = None
                if existing is not None:
                    oid = existing.sha256 if existing.lfs else existing.git_oid
                files.append(
                    {
                        "path": path,
                        "uploadMode": "lfs" if lfs else "regular",
                        "shouldIgnore": any(fnmatch.fnmatchcase(path, pat) for pat in ignore),
                        "oid": oid,
                    }
                )
            return {"files": files, "commitOid": commit.oid}

    def handle_lfs_batch(self, req: _Request, **m: str) -> Any:
        body = req.json()
        with self._lock:
            repo = self._repo_from_match(req, m)
            operation = body.get("operation", "upload")
            objects = []
            for obj in body.get("objects", []):
                oid, size = obj["oid"], int(obj["size"])
                if operation != "upload":
                    objects.append(
                        {
                            "oid": oid,
                            "size": size,
                            "error": {"code": 501, "message": "not supported"},
                        }
                    )
                elif oid in self.lfs_objects:
                    objects.append({"oid": oid, "size": size})  # already uploaded: no action
                else:
                    sig = secrets.token_hex(16)
                    self._pending_uploads[sig] = (oid, size)
                    prefix = _URL_PREFIX[repo.repo_type]
                    objects.append(
                        {
                            "oid": oid,
                            "size": size,
                            "authenticated": True,
                            "actions": {
                                "upload": {
                                    "href": f"{self.url}/__fake_lfs__/upload/{oid}?sig={sig}",
                                    "expires_in": 3600,
                                },
                                "verify": {
                                    "href": f"{self.url}/{prefix}{repo.repo_id}.git/info/lfs/objects/verify",
                                    "expires_in": 3600,
                                },
                            },
                        }
                    )
        return _Raw(
            200,
            json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
            {"Content-Type": "application/vnd.git-lfs+json"},
        )

    def handle_lfs_upload(self, req: _Request, **m: str) -> Any:
        sig = (req.query.get("sig") or [""])[0]
        with self._lock:
            expected = self._pending_uploads.get(sig)
        if expected is None or expected[0] != m["oid"]:
            raise HubError(403, "Invalid or expired upload signature")
        data = req.body
        if hashlib.sha256(data).hexdigest() != expected[0] or len(data) != expected[1]:
            raise HubError(400, "Uploaded content does not match the announced sha256/size")
        self._store(data, lfs=True)
        with self._lock:
            self.lfs_objects.add(expected[0])
            self._pending_uploads.pop(sig, None)
        return _Raw(200, b"", {"ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    def handle_lfs_verify(self, req: _Request, **m: str) -> Any:
        body = req.json()
        with self._lock:
            self._repo_from_match(req, m)
            oid, size = body.get("oid"), body.get("size")
            if oid not in self.lfs_objects:
                raise HubError(404, f"LFS object {oid} not found")
            if (self._objects_dir / oid).stat().st_size != size:
                raise HubError(400, f"LFS object {oid} has a different size")
        return {"success": True}

    def handle_commit(self, req: _Request, **m: str) -> Any:
        if req.flag("create_pr"):
            self.unhandled.append(f"{req.method} {req.raw_path} (create_pr not supported)")
            raise HubError(400, "The fake Hub does not support create_pr")
        lines = [json.loads(line) for line in req.body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "Commit payload must start with a header line")
        header = lines[0]["value"]
        branch = unquote(m["rev"])
        with self._lock:
            repo = self._repo_from_match(req, m)
            if branch not in repo.refs:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            head = repo.commits[repo.refs[branch]]
            parent = header.get("parentCommit")
            if parent is not None and parent != head.oid:
                raise HubError(412, f"Parent commit {parent} is not the head of {branch}")
            tree = dict(head.tree)
            for line in lines[1:]:
                self._apply_operation(tree, line.get("key"), line.get("value") or {})
            commit = self._new_commit(
                repo, branch, tree, header.get("summary") or "", header.get("description") or ""
            )
            prefix = _URL_PREFIX[repo.repo_type]
        return {
            "success": True,
            "commitOid": commit.oid,
            "commitUrl": f"{self.url}/{prefix}{repo.repo_id}/commit/{commit.oid}",
            "hookOutput": "",
            "pullRequestUrl": None,
        }

    def _apply_operation(self, tree: dict[str, _Blob], key: str | None, value: dict) -> None:
        path = str(value.get("path", "")).strip("/")
        if not path or ".." in path.split("/") or path.startswith(".git/"):
            raise HubError(400, f"Invalid path in commit: {value.get('path')!r}")
        if key == "file":
            content = value.get("content", "")
            if value.get("encoding") == "base64":
                data = base64.b64decode(content)
            else:
                data = content.encode()
            tree[path] = self._store(data, lfs=False)
        elif key == "lfsFile":
            oid = value.get("oid")
            if value.get("algo", "sha256") != "sha256" or oid not in self.lfs_objects:
                raise HubError(
                    422, f"LFS object {oid} for {path} was not uploaded (see the LFS batch route)"
                )
            size = (self._objects_dir / oid).stat().st_size
            if value.get("size") is not None and int(value["size"]) != size:
                raise HubError(400, f"LFS object {oid} has size {size}, not {value['size']}")
            tree[path] = _Blob(sha256=oid, size=size, lfs=True)
        elif key == "deletedFile":
            if path not in tree:
                raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            del tree[path]
        elif key == "deletedFolder":
            doomed = [p for p in tree if p.startswith(path + "/")]
            if not doomed:
                raise HubError(
                    404, f"A folder with this name doesn't exist: {path}", "EntryNotFound"
                )
            for p in doomed:
                del tree[p]
        else:
            raise HubError(400, f"Unsupported commit operation: {key!r}")

    def handle_list_commits(self, req: _Request, **m: str) -> Any:
        with self._lock:
            repo = self._repo_from_match(req, m)
            commit = self._resolve(repo, unquote(m["rev"]))
            return [
                {
                    "id": c.oid,
                    "title": c.title,
                    "message": c.message,
                    "date": c.date,
                    "authors": [{"user": self.username}],
                }
                for c in self._history(repo, commit.oid)
            ]

    def handle_refs(self, req: _Request, **m: str) -> Any:
        with self._lock:
            repo = self._repo_from_match(req, m)
            branches = [
                {"name": name, "ref": f"refs/heads/{name}", "targetCommit": oid}
                for name, oid in sorted(repo.refs.items())
            ]
        return {"branches": branches, "converts": [], "tags": [], "pullRequests": []}

    def handle_create_branch(self, req: _Request, **m: str) -> Any:
        body = req.json() if req.body else {}
        branch = unquote(m["branch"])
        with self._lock:
            repo = self._repo_from_match(req, m)
            if branch in repo.refs:
                raise HubError(409, f"Branch {branch} already exists")
            start = self._resolve(repo, body.get("startingPoint") or "main")
            repo.refs[branch] = start.oid
        return {}

    def handle_delete_branch(self, req: _Request, **m: str) -> Any:
        branch = unquote(m["branch"])
        with self._lock:
            repo = self._repo_from_match(req, m)
            if branch == "main" or branch not in repo.refs:
                raise HubError(404 if branch != "main" else 403, f"Cannot delete branch {branch}")
            del repo.refs[branch]
        return {}

    def handle_resolve(self, req: _Request, **m: str) -> Any:
        with self._lock:
            repo = self._repo_from_match(req, m)
            commit = self._resolve(repo, unquote(m["rev"]))
            path = unquote(m["path"])
            blob = commit.tree.get(path)
            if blob is None:
                raise HubError(
                    404,
                    f"Entry not found: {path}",
                    "EntryNotFound",
                    headers={"X-Repo-Commit": commit.oid},
                )
        headers = {
            "ETag": f'"{blob.etag}"',
            "X-Repo-Commit": commit.oid,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if blob.lfs:
            headers["X-Linked-Etag"] = f'"{blob.sha256}"'
            headers["X-Linked-Size"] = str(blob.size)
        start, end, status = 0, blob.size, 200
        range_header = req.headers.get("Range")
        if range_header:
            match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", range_header)
            if match is None or match.group(1) == match.group(2) == "":
                raise HubError(
                    416, "Invalid range", headers={"Content-Range": f"bytes */{blob.size}"}
                )
            if match.group(1) == "":  # suffix range: last N bytes
                start = max(0, blob.size - int(match.group(2)))
            else:
                start = int(match.group(1))
                if match.group(2):
                    end = min(blob.size, int(match.group(2)) + 1)
            if start >= blob.size or start >= end:
                raise HubError(
                    416, "Range not satisfiable", headers={"Content-Range": f"bytes */{blob.size}"}
                )
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{blob.size}"
        if req.method == "HEAD":
            return _Raw(status, b"", headers, content_length=end - start)
        return _Raw(status, self._read(blob, start, end), headers)


class _ConflictWithBody(HubError):
    def __init__(self, body: dict, code: str | None = None):
        super().__init__(409, body.get("error", "Conflict"), code)
        self.body = body


class _BadRequestWithBody(HubError):
    def __init__(self, body: dict):
        super().__init__(400, "; ".join(e["message"] for e in body.get("errors", [])))
        self.body = body


@dataclass
class _Raw:
    status: int
    body: bytes
    headers: dict[str, str]
    content_length: int | None = None


@dataclass
class _Request:
    method: str
    raw_path: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    body: bytes
    token: str | None

    def flag(self, name: str) -> bool:
        values = self.query.get(name) or self.query.get(name + "[]") or []
        return any(v.lower() in _TRUE for v in values)

    def json(self) -> dict:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as err:
            raise HubError(400, f"Invalid JSON body: {err}") from err
        if not isinstance(data, dict):
            raise HubError(400, "JSON body must be an object")
        return data

    def form_or_json(self) -> dict:
        ctype = (self.headers.get("Content-Type") or "").lower()
        if "json" in ctype:
            return self.json()
        parsed = parse_qs(self.body.decode(), keep_blank_values=True)
        out: dict[str, Any] = {k: v for k, v in parsed.items() if k == "paths"}
        for k, v in parsed.items():
            if k != "paths":
                out[k] = v[-1]
        return out


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
        pass

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
            return b"".join(chunks)
        return b""

    def _dispatch(self) -> None:
        hub = self.hub
        body = self._read_body()
        hub.requests.append(
            RecordedRequest(self.command, self.path, dict(self.headers.items()), len(body))
        )
        split = urlsplit(self.path)
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        req = _Request(
            method=self.command,
            raw_path=self.path,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            token=token or None,
        )
        try:
            for method, pattern, name in _ROUTES:
                if method != self.command:
                    continue
                match = pattern.match(split.path)
                if match is None:
                    continue
                if name in _WRITE_ROUTES and req.token is None:
                    raise HubError(401, "Authorization header with a Bearer token is required")
                groups = {k: v for k, v in match.groupdict().items() if v is not None}
                result = getattr(hub, f"handle_{name}")(req, **groups)
                if isinstance(result, _Raw):
                    self._send(result.status, result.body, result.headers, result.content_length)
                else:
                    self._send_json(200, result)
                return
            hub.unhandled.append(f"{self.command} {self.path}")
            raise HubError(404, f"Fake Hub: no route for {self.command} {split.path}")
        except HubError as err:
            headers = dict(err.headers)
            if err.code:
                headers["X-Error-Code"] = err.code
            headers["X-Error-Message"] = err.message.encode("ascii", "replace").decode()
            payload = getattr(err, "body", None) or {"error": err.message}
            self._send_json(err.status, payload, headers)
        except Exception as err:  # a bug in the fake: make it visible to the test
            hub.unhandled.append(f"{self.command} {self.path} (server error: {err!r})")
            self._send_json(500, {"error": f"Fake Hub internal error: {err!r}"})

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        self._send(status, json.dumps(payload).encode(), headers)

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str],
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header(
            "Content-Length", str(len(body) if content_length is None else content_length)
        )
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


# ---------------------------------------------------------------------- pytest fixture

_OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def _reset_client_state() -> None:
    """Drop cached HTTP clients / filesystems so that nothing survives from one server to the next."""
    from huggingface_hub import HfFileSystem
    from huggingface_hub.utils import _http

    _http.close_session()
    HfFileSystem.clear_instance_cache()
    try:
        from huggingface_hub.utils._hf_uris import parse_hf_uri

        parse_hf_uri.cache_clear()
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    try:
        from huggingface_hub import _tree_cache

        with _tree_cache._IN_MEMORY_TREE_CACHE_LOCK:
            _tree_cache._IN_MEMORY_TREE_CACHE.clear()
    except (ImportError, AttributeError):  # pragma: no cover
        pass


def configure_clients(monkeypatch: pytest.MonkeyPatch, url: str, home: Path) -> None:
    """Point huggingface_hub and datasets at `url`, online, with caches under `home`.

    Both libraries copy environment variables into module constants at import time, so setting the
    environment is not enough: the constants are patched too (and restored by `monkeypatch`).
    """
    import datasets.config as ds_config
    import huggingface_hub.constants as hf_constants
    import huggingface_hub.hf_api as hf_api
    import huggingface_hub.hf_file_system as hf_fs
    from huggingface_hub.utils import _cache_assets, _cache_manager, _http

    home.mkdir(parents=True, exist_ok=True)
    hub_cache = home / "hub"
    assets_cache = home / "assets"
    datasets_cache = home / "datasets"
    token_path = home / "token"

    env = {
        "HF_ENDPOINT": url,
        "HF_TOKEN": "hf_dummy_token_for_tests",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(hub_cache),
        "HF_ASSETS_CACHE": str(assets_cache),
        "HF_DATASETS_CACHE": str(datasets_cache),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(token_path),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_UPDATE_DOWNLOAD_COUNTS": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in (
        "HUGGING_FACE_HUB_TOKEN",
        "HF_OIDC_RESOURCE",
        "HF_OIDC_ID_TOKEN",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN",
        "HUGGINGFACE_CO_STAGING",
        "TRANSFORMERS_OFFLINE",
        "HUGGINGFACE_HUB_CACHE",
        "HUGGINGFACE_ASSETS_CACHE",
        "HF_DATASETS_DOWNLOADED_DATASETS_PATH",
        "HF_DATASETS_EXTRACTED_DATASETS_PATH",
        "HF_MODULES_CACHE",
    ):
        monkeypatch.delenv(key, raising=False)
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    monkeypatch.setenv("NO_PROXY", no_proxy)
    monkeypatch.setenv("no_proxy", no_proxy)

    # --- huggingface_hub: constants read at import time
    host = urlsplit(url).hostname or "127.0.0.1"
    for name, value in {
        "ENDPOINT": url,
        "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": frozenset(hf_constants.HF_URL_HOSTS | {host}),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": False,
        "HF_HUB_DISABLE_UPDATE_CHECK": True,
        "HF_HOME": str(home),
        "default_cache_path": str(hub_cache),
        "default_assets_cache_path": str(assets_cache),
        "HUGGINGFACE_HUB_CACHE": str(hub_cache),
        "HUGGINGFACE_ASSETS_CACHE": str(assets_cache),
        "HF_HUB_CACHE": str(hub_cache),
        "HF_ASSETS_CACHE": str(assets_cache),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(token_path),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(home / ".check_for_update_done"),
    }.items():
        if hasattr(hf_constants, name):
            monkeypatch.setattr(hf_constants, name, value)
    # Copies made with `from ..constants import X` / module-level objects built at import time.
    monkeypatch.setattr(_cache_manager, "HF_HUB_CACHE", str(hub_cache), raising=False)
    monkeypatch.setattr(_cache_assets, "HF_ASSETS_CACHE", str(assets_cache), raising=False)
    if hasattr(_http, "_HUB_ORIGINS"):
        monkeypatch.setattr(
            _http, "_HUB_ORIGINS", frozenset(_http._HUB_ORIGINS | {_http._url_origin(url)})
        )
    monkeypatch.setattr(hf_api.api, "endpoint", url)  # module-level `HfApi()` (upload_file, ...)
    if hasattr(hf_fs, "hffs"):  # module-level `HfFileSystem()`
        monkeypatch.setattr(hf_fs.hffs, "endpoint", url)
        monkeypatch.setattr(hf_fs.hffs._api, "endpoint", url)

    # --- datasets: constants read at import time
    for name, value in {
        "HF_ENDPOINT": url,
        "HUB_DATASETS_URL": url + "/datasets/{repo_id}/resolve/{revision}/{path}",
        "HF_HUB_OFFLINE": False,
        "HF_DATASETS_OFFLINE": False,
        "HF_CACHE_HOME": str(home),
        "HF_DATASETS_CACHE": datasets_cache,
        "HF_MODULES_CACHE": home / "modules",
        "DOWNLOADED_DATASETS_PATH": datasets_cache / "downloads",
        "EXTRACTED_DATASETS_PATH": datasets_cache / "downloads" / "extracted",
        # No dataset viewer (datasets-server.<host>) nor S3 download counters on this machine.
        "USE_PARQUET_EXPORT": False,
        "HF_UPDATE_DOWNLOAD_COUNTS": False,
    }.items():
        if hasattr(ds_config, name):
            monkeypatch.setattr(ds_config, name, value)

    # --- evaluate (only if already imported: importing it pulls in transformers, ~4 s)
    import sys

    ev_config = sys.modules.get("evaluate.config")
    if ev_config is not None:
        monkeypatch.setattr(ev_config, "HF_ENDPOINT", url)
        monkeypatch.setattr(ev_config, "HF_LIST_ENDPOINT", url + "/api/spaces?filter={type}")
        monkeypatch.setattr(
            ev_config, "HUB_EVALUATE_URL", url + "/spaces/{path}/resolve/{revision}/{name}"
        )


def _repair_late_imports(saved_env: dict[str, str | None], was_imported: set[str]) -> None:
    """Modules first imported *during* the test captured the fake endpoint from the environment:
    put back the values they would have read from the original environment."""
    import sys

    ev_config = sys.modules.get("evaluate.config")
    if ev_config is not None and "evaluate.config" not in was_imported:
        endpoint = saved_env.get("HF_ENDPOINT") or "https://huggingface.co"
        ev_config.HF_ENDPOINT = endpoint
        ev_config.HF_LIST_ENDPOINT = endpoint + "/api/spaces?filter={type}"
        ev_config.HUB_EVALUATE_URL = endpoint + "/spaces/{path}/resolve/{revision}/{name}"


@pytest.fixture(name="fake_hub")
def fake_hub_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A running `FakeHub`, with huggingface_hub / datasets pointed at it for the test.

    The fixture is named `fake_hub` (the function has another name so that a test parameter
    called `fake_hub` does not shadow a module-level name).
    """
    import sys

    saved_env = {"HF_ENDPOINT": os.environ.get("HF_ENDPOINT")}
    was_imported = {name for name in ("evaluate.config",) if name in sys.modules}
    hub = FakeHub(tmp_path / "fake_hub_storage")
    hub.start()
    try:
        _reset_client_state()
        configure_clients(monkeypatch, hub.url, tmp_path / "hf_home")
        yield hub
    finally:
        _reset_client_state()
        _repair_late_imports(saved_env, was_imported)
        hub.stop()
