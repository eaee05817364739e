"""fal's storage on the local server: CDN token, uploads, multipart, and the initiate + PUT flow.

Routes (PROTOCOL.md section 6), under the REST prefix:

* ``POST /storage/auth/token?storage_type=fal-cdn-v3`` (account key) -> ``{token, token_type,
  base_url, expires_at}``; ``base_url`` is this server's CDN prefix;
* ``POST /storage/upload/initiate?storage_type=gcs|fal-cdn-v3`` (account key) ->
  ``{upload_url, file_url}``.

and under the CDN prefix (every route but the signed PUT wants ``Authorization: Bearer <token>``):

* ``POST /files/upload`` (raw body) -> ``{access_url}``;
* ``POST /files/upload/multipart`` -> ``{access_url, uploadId}``;
  ``PUT {access_url}/multipart/{uploadId}/{n}`` -> ``ETag`` header;
  ``POST {access_url}/multipart/{uploadId}/complete`` ``{parts: [{partNumber, etag}]}``;
* ``PUT /storage/put/{signed id}`` (no auth), the target of an initiate.

Bodies are streamed to disk and handed to the :class:`FileStore`, which serves them under
``<cdn>/files/...``; a multipart object exists only once *complete* saw every part, in order,
with the right ETags. :meth:`Storage.fail` makes chosen requests fail (a part, the token...),
:attr:`Storage.receive_rate` reads bodies slowly (a slow uplink), and :attr:`Storage.attempts`
counts every request per operation, so tests can check that a failed part was retried alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._filestore import FileStore, StoredFile, safe_file_name

__all__ = ["Operation", "Storage", "StorageFault", "StoredUpload"]

Operation = Literal["token", "upload", "multipart", "part", "complete", "initiate", "put"]
_OPERATIONS: Final = frozenset(
    {"token", "upload", "multipart", "part", "complete", "initiate", "put"}
)
_COPY_CHUNK: Final = 8 << 20


@dataclass
class StorageFault:
    """Answer ``status`` to the next ``times`` requests of ``operation`` (``None``: all of them).

    ``part`` narrows a ``"part"`` fault to one part number. A failing upload still reads the
    whole body first, as a real server would before answering.
    """

    operation: Operation
    status: int = 503
    times: int | None = 1
    part: int | None = None

    def matches(self, operation: str, part: int | None) -> bool:
        return self.operation == operation and (self.part is None or self.part == part)


@dataclass(frozen=True)
class StoredUpload:
    """An upload that completed: where it is served and what it was sent with."""

    url: str
    key: str
    flow: Literal["cdn", "multipart", "storage"]
    size: int
    content_type: str
    file_name: str
    lifecycle: dict[str, Any] | None


@dataclass
class _Multipart:
    key: str
    access_url: str
    content_type: str
    file_name: str
    lifecycle: dict[str, Any] | None
    parts: dict[int, tuple[Path, str]] = field(default_factory=dict[int, tuple[Path, str]])


@dataclass
class _Signed:
    key: str
    file_url: str
    content_type: str
    file_name: str
    lifecycle: dict[str, Any] | None


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _lifecycle(request: Request, header: str) -> dict[str, Any] | None:
    raw = request.headers.get(header)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return {"invalid": raw}
    return value if isinstance(value, dict) else {"invalid": raw}  # pyright: ignore[reportUnknownVariableType]


class Storage:
    """The storage routes and their state; thread-safe, so tests may inspect it while it serves.

    ``files`` serves the stored objects; ``cdn_prefix`` is the path of the CDN routes on this
    server (URLs handed out are built from the request's origin and it). ``token_ttl`` is the
    lifetime of CDN tokens; ``check_key`` decides whether an account ``Authorization`` header
    is valid (default: any ``Key <non-empty>``).
    """

    def __init__(
        self,
        files: FileStore,
        *,
        cdn_prefix: str = "/cdn",
        token_ttl: float = 3600.0,
        directory: str | os.PathLike[str] | None = None,
        check_key: Callable[[str], bool] | None = None,
    ) -> None:
        self.files = files
        self.cdn_prefix: str = "/" + cdn_prefix.strip("/")
        self.token_ttl = token_ttl
        self._check_key = check_key
        self._own_directory = directory is None
        self.directory: Path = Path(directory or tempfile.mkdtemp(prefix="fal-typed-storage-"))
        self._lock = threading.Lock()
        self._faults: list[StorageFault] = []
        self._tokens: dict[str, datetime] = {}
        self._multipart: dict[str, _Multipart] = {}
        self._signed: dict[str, _Signed] = {}
        self.uploads: dict[str, StoredUpload] = {}
        """Completed uploads by URL."""
        self.attempts: Counter[str] = Counter()
        """Requests received per operation (``"part:3"`` for part 3)."""
        self.key_sent_to_cdn: bool = False
        """Set if an account key ever reached a CDN or signed-URL route (it must not)."""
        self.receive_rate: float | None = None
        """Bytes per second the server reads upload bodies at (a slow uplink); None: no limit."""

    # -- test controls ---------------------------------------------------------------------

    def fail(
        self,
        operation: Operation,
        *,
        status: int = 503,
        times: int | None = 1,
        part: int | None = None,
    ) -> StorageFault:
        """Make requests of ``operation`` fail; see :class:`StorageFault`. Returns the fault."""
        if operation not in _OPERATIONS:
            raise ValueError(
                f"unknown storage operation {operation!r}; one of {sorted(_OPERATIONS)}"
            )
        fault = StorageFault(operation, status, times, part)
        with self._lock:
            self._faults.append(fault)
        return fault

    def reset(self) -> None:
        """Forget faults, counters, tokens, pending multiparts and the record of uploads."""
        with self._lock:
            self._faults.clear()
            self.attempts.clear()
            self._tokens.clear()
            pending = list(self._multipart.values())
            self._multipart.clear()
            self._signed.clear()
            self.uploads.clear()
            self.key_sent_to_cdn = False
            self.receive_rate = None
        for upload in pending:
            for path, _ in upload.parts.values():
                path.unlink(missing_ok=True)

    def pending_multipart(self) -> int:
        """Multipart uploads started and not completed."""
        with self._lock:
            return len(self._multipart)

    def close(self) -> None:
        """Drop pending state and delete the working directory if this object created it."""
        self.reset()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- routes ------------------------------------------------------------------------------

    def rest_routes(self) -> list[BaseRoute]:
        """Routes to mount under the REST prefix."""
        return [
            Route("/storage/auth/token", self._token, methods=["POST"]),
            Route("/storage/upload/initiate", self._initiate, methods=["POST"]),
        ]

    def cdn_routes(self) -> list[BaseRoute]:
        """Routes to mount under the CDN prefix (the files themselves are the FileStore's)."""
        return [
            Route("/files/upload", self._upload, methods=["POST"]),
            Route("/files/upload/multipart", self._multipart_initiate, methods=["POST"]),
            Route(
                "/files/{key:path}/multipart/{upload_id}/complete", self._complete, methods=["POST"]
            ),
            Route(
                "/files/{key:path}/multipart/{upload_id}/{part:int}", self._part, methods=["PUT"]
            ),
            Route("/storage/put/{signed}", self._signed_put, methods=["PUT"]),
        ]

    # -- helpers -----------------------------------------------------------------------------

    def _count(self, operation: str, part: int | None = None) -> StorageFault | None:
        """Count the request and consume the fault it triggers, if any."""
        with self._lock:
            self.attempts[operation if part is None else f"{operation}:{part}"] += 1
            for fault in self._faults:
                if fault.matches(operation, part) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _cdn_base(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{self.cdn_prefix}"

    def _account_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if self._check_key is not None:
            return bool(self._check_key(header))
        scheme, _, key = header.partition(" ")
        return scheme == "Key" and bool(key.strip())

    def _token_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Key "):
            self.key_sent_to_cdn = True
        scheme, _, token = header.partition(" ")
        with self._lock:
            expires = self._tokens.get(token)
        return scheme == "Bearer" and expires is not None and datetime.now(timezone.utc) < expires

    def _new_key(self, request: Request, fallback_name: str = "upload.bin") -> tuple[str, str]:
        raw = unquote(request.headers.get("x-fal-file-name", "")) or fallback_name
        name = safe_file_name(raw)
        return f"b/{secrets.token_hex(6)}/{name}", name

    async def _receive(self, request: Request, target: Path) -> int | None:
        """Stream the body to ``target``; ``None`` if the client went away mid-body."""
        size = 0
        try:
            with target.open("wb") as out:
                async for chunk in request.stream():
                    out.write(chunk)
                    size += len(chunk)
                    if self.receive_rate:
                        await asyncio.sleep(len(chunk) / self.receive_rate)
        except ClientDisconnect:
            target.unlink(missing_ok=True)
            return None
        except BaseException:  # a body that stalled (a 408), a cancel: no half file is left
            target.unlink(missing_ok=True)
            raise
        return size

    async def _drain(self, request: Request) -> None:
        try:
            async for _ in request.stream():
                pass
        except ClientDisconnect:
            pass

    def _spool(self) -> Path:
        return self.directory / secrets.token_hex(12)

    def _store(
        self,
        path: Path,
        key: str,
        url: str,
        flow: Literal["cdn", "multipart", "storage"],
        content_type: str,
        file_name: str,
        lifecycle: dict[str, Any] | None,
    ) -> StoredFile:
        stored = self.files.put_file(path, key=key, content_type=content_type, file_name=file_name)
        with self._lock:
            self.uploads[url] = StoredUpload(
                url, key, flow, stored.size, content_type, file_name, lifecycle
            )
        return stored

    # -- REST: token and initiate -----------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        fault = self._count("token")
        if not self._account_ok(request):
            return _error(401, "Invalid or missing API key")
        if fault:
            return _error(fault.status, "injected token failure")
        token = secrets.token_urlsafe(24)
        expires = datetime.now(timezone.utc) + timedelta(seconds=self.token_ttl)
        with self._lock:
            self._tokens[token] = expires
        return JSONResponse(
            {
                "token": token,
                "token_type": "Bearer",
                "base_url": self._cdn_base(request),
                "expires_at": expires.isoformat().replace("+00:00", "Z"),
            }
        )

    async def _initiate(self, request: Request) -> Response:
        fault = self._count("initiate")
        if not self._account_ok(request):
            return _error(401, "Invalid or missing API key")
        if fault:
            return _error(fault.status, "injected initiate failure")
        try:
            body = await request.json()
        except ValueError:
            return _error(422, "body must be JSON")
        if not isinstance(body, dict):
            return _error(422, "body must be a JSON object")
        fields: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        name = safe_file_name(str(fields.get("file_name") or "upload.bin"))
        content_type = str(fields.get("content_type") or "application/octet-stream")
        key = f"b/{secrets.token_hex(6)}/{name}"
        base = self._cdn_base(request)
        signed = secrets.token_urlsafe(18)
        file_url = f"{base}/files/{key}"
        lifecycle = _lifecycle(request, "x-fal-object-lifecycle-preference")
        with self._lock:
            self._signed[signed] = _Signed(key, file_url, content_type, name, lifecycle)
        return JSONResponse({"upload_url": f"{base}/storage/put/{signed}", "file_url": file_url})

    async def _signed_put(self, request: Request) -> Response:
        fault = self._count("put")
        if request.headers.get("authorization", "").startswith("Key "):
            self.key_sent_to_cdn = True
        with self._lock:
            target = self._signed.get(request.path_params["signed"])
        if target is None:
            await self._drain(request)
            return _error(403, "unknown or used upload URL")
        if fault:
            await self._drain(request)
            return _error(fault.status, "injected PUT failure")
        spool = self._spool()
        size = await self._receive(request, spool)
        if size is None:
            return _error(400, "body incomplete")
        with self._lock:
            self._signed.pop(request.path_params["signed"], None)
        content_type = request.headers.get("content-type") or target.content_type
        self._store(
            spool,
            target.key,
            target.file_url,
            "storage",
            content_type,
            target.file_name,
            target.lifecycle,
        )
        return Response(status_code=200)

    # -- CDN: single upload and multipart ---------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        fault = self._count("upload")
        if not self._token_ok(request):
            await self._drain(request)
            return _error(401, "invalid or expired CDN token")
        if fault:
            await self._drain(request)
            return _error(fault.status, "injected upload failure")
        key, name = self._new_key(request)
        spool = self._spool()
        if await self._receive(request, spool) is None:
            return _error(400, "body incomplete")
        url = f"{self._cdn_base(request)}/files/{key}"
        content_type = request.headers.get("content-type") or "application/octet-stream"
        self._store(
            spool,
            key,
            url,
            "cdn",
            content_type,
            name,
            _lifecycle(request, "x-fal-object-lifecycle"),
        )
        return JSONResponse({"access_url": url})

    async def _multipart_initiate(self, request: Request) -> Response:
        fault = self._count("multipart")
        if not self._token_ok(request):
            return _error(401, "invalid or expired CDN token")
        if fault:
            return _error(fault.status, "injected multipart initiate failure")
        key, name = self._new_key(request)
        upload_id = secrets.token_hex(10)
        access_url = f"{self._cdn_base(request)}/files/{key}"
        content_type = request.headers.get("content-type") or "application/octet-stream"
        lifecycle = _lifecycle(request, "x-fal-object-lifecycle")
        with self._lock:
            self._multipart[upload_id] = _Multipart(key, access_url, content_type, name, lifecycle)
        return JSONResponse({"access_url": access_url, "uploadId": upload_id})

    def _pending(self, request: Request) -> _Multipart | None:
        with self._lock:
            upload = self._multipart.get(request.path_params["upload_id"])
        return upload if upload is not None and upload.key == request.path_params["key"] else None

    async def _part(self, request: Request) -> Response:
        number: int = request.path_params["part"]
        fault = self._count("part", number)
        if not self._token_ok(request):
            await self._drain(request)
            return _error(401, "invalid or expired CDN token")
        upload = self._pending(request)
        if upload is None:
            await self._drain(request)
            return _error(404, "unknown multipart upload")
        if fault:
            await self._drain(request)
            return _error(fault.status, f"injected failure of part {number}")
        if number < 1:
            await self._drain(request)
            return _error(400, "part numbers start at 1")
        spool = self._spool()
        if await self._receive(request, spool) is None:
            return _error(400, "body incomplete")
        etag = f'"{secrets.token_hex(16)}"'
        with self._lock:
            previous = upload.parts.get(number)
            upload.parts[number] = (spool, etag)
        if previous is not None:  # a retried part replaces the earlier attempt
            previous[0].unlink(missing_ok=True)
        return Response(status_code=200, headers={"ETag": etag})

    async def _complete(self, request: Request) -> Response:
        fault = self._count("complete")
        if not self._token_ok(request):
            return _error(401, "invalid or expired CDN token")
        upload = self._pending(request)
        if upload is None:
            return _error(404, "unknown multipart upload")
        if fault:
            return _error(fault.status, "injected complete failure")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error(415, "complete takes a JSON body (Content-Type: application/json)")
        try:
            body = await request.json()
            listed = [(int(p["partNumber"]), str(p["etag"])) for p in body["parts"]]
        except (ValueError, KeyError, TypeError):
            return _error(400, 'body must be {"parts": [{"partNumber": n, "etag": e}, ...]}')
        with self._lock:
            stored = dict(upload.parts)
        problem = _check_parts(listed, stored)
        if problem:
            return _error(400, problem)
        with self._lock:
            if self._multipart.pop(request.path_params["upload_id"], None) is None:
                return _error(404, "unknown multipart upload")
        target = self._spool()
        await asyncio.to_thread(_concatenate, [stored[n][0] for n, _ in listed], target)
        self._store(
            target,
            upload.key,
            upload.access_url,
            "multipart",
            upload.content_type,
            upload.file_name,
            upload.lifecycle,
        )
        return JSONResponse({"access_url": upload.access_url})


def _check_parts(listed: list[tuple[int, str]], stored: dict[int, tuple[Path, str]]) -> str | None:
    """Why a complete request's part list does not describe the whole object, or ``None``."""
    if not listed:
        return "no parts listed"
    numbers = [n for n, _ in listed]
    if numbers != list(range(1, len(listed) + 1)):
        return f"parts must be listed 1..N in order without gaps, got {numbers[:20]}"
    if set(stored) != set(numbers):
        return f"uploaded parts {sorted(stored)[:20]} differ from the listed ones"
    for number, etag in listed:
        if stored[number][1] != etag:
            return f"part {number}: ETag {etag!r} does not match the uploaded part"
    return None


def _concatenate(parts: list[Path], target: Path) -> None:
    """Join the part files into ``target`` (in-kernel copy where available) and delete them."""
    with target.open("wb") as out:
        for path in parts:
            with path.open("rb") as part:
                size = os.fstat(part.fileno()).st_size
                copied = 0
                if hasattr(os, "copy_file_range"):
                    try:
                        while copied < size:
                            step = os.copy_file_range(part.fileno(), out.fileno(), size - copied)
                            if step == 0:
                                break
                            copied += step
                    except OSError:
                        part.seek(copied)
                        out.seek(0, os.SEEK_END)
                if copied < size:
                    shutil.copyfileobj(part, out, _COPY_CHUNK)
            path.unlink(missing_ok=True)
