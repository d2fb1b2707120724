"""In-memory file storage behind file_id, getFile and the /file/bot<TOKEN>/ download route."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Any

__all__ = ["FileRecord", "FileStore"]


@dataclass(slots=True)
class FileRecord:
    """One stored file; several photo sizes may share the same bytes."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None


class FileStore:
    """Maps file ids and file paths to bytes so uploads can be re-sent and downloaded."""

    def __init__(self) -> None:
        self.by_id: dict[str, FileRecord] = {}
        self.by_path: dict[str, FileRecord] = {}
        self.photo_sets: dict[str, list[dict[str, Any]]] = {}
        self._counter = itertools.count(1)

    def add(
        self,
        data: bytes,
        folder: str,
        ext: str,
        mime_type: str | None = None,
        file_name: str | None = None,
    ) -> FileRecord:
        """Store bytes under fresh ids that look like Telegram's (opaque, URL-safe)."""
        n = next(self._counter)
        file_id = f"BQACAgQAAxk{n:06d}{secrets.token_urlsafe(12)}"
        record = FileRecord(
            file_id=file_id,
            file_unique_id=f"AgAD{n:06d}",
            data=data,
            file_path=f"{folder}/file_{n}{ext}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self.by_id[file_id] = record
        self.by_path[record.file_path] = record
        return record

    def photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        """Three PhotoSize dicts (thumbnail to large) like Telegram returns for one photo."""
        sizes: list[dict[str, Any]] = []
        for side in (90, 320, 800):
            record = self.add(data, "photos", ".jpg", "image/jpeg")
            sizes.append(
                {
                    "file_id": record.file_id,
                    "file_unique_id": record.file_unique_id,
                    "width": side,
                    "height": side,
                    "file_size": len(data),
                }
            )
        for size in sizes:
            self.photo_sets[size["file_id"]] = sizes
        return sizes

    def document(self, data: bytes, file_name: str, mime_type: str | None) -> dict[str, Any]:
        """A Document dict for freshly uploaded bytes."""
        ext = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        record = self.add(data, "documents", ext, mime_type, file_name)
        return self.document_json(record)

    @staticmethod
    def document_json(record: FileRecord) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
        }
        if record.file_name:
            data["file_name"] = record.file_name
        if record.mime_type:
            data["mime_type"] = record.mime_type
        return data
