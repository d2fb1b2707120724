"""The sandbox page's media: photos and locations a phone sends, files the bot sent."""

from __future__ import annotations

from aiohttp import web

from sandbox.webapp import MAX_PHOTO, SANDBOX_KEY, _bad, _phone_user, message_json


async def post_photo(request: web.Request) -> web.Response:
    _sandbox, user = _phone_user(request)
    data: bytes | None = None
    caption: str | None = None
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        upload = form.get("photo")
        if isinstance(upload, web.FileField):
            data = upload.file.read(MAX_PHOTO + 1)
        raw_caption = form.get("caption")
        caption = raw_caption if isinstance(raw_caption, str) and raw_caption else None
    if data is not None and len(data) > MAX_PHOTO:
        return _bad("photo larger than 10 MB")
    message = (
        await user.send_photo(caption=caption, data=data)
        if data
        else await user.send_photo(caption=caption)
    )
    return web.json_response({"ok": True, "message": message_json(message)})


# Where a sandbox phone "is" when it shares its location: the centre of Blaye.
DEMO_LOCATION = (45.1274, -0.6625)


async def post_location(request: web.Request) -> web.Response:
    """The attachment menu's "Location": shares a fixed point, as a phone's GPS would."""
    _sandbox, user = _phone_user(request)
    message = await user.send_location(*DEMO_LOCATION)
    return web.json_response({"ok": True, "message": message_json(message)})


async def get_file(request: web.Request) -> web.Response:
    """A photo or document shown in a phone, by its file id (what the bot sent)."""
    sandbox = request.app[SANDBOX_KEY]
    record = sandbox.server.files.by_id.get(request.match_info["file_id"])
    if record is None:
        raise web.HTTPNotFound(text="unknown file")
    return web.Response(
        body=record.data, content_type=record.mime_type or "application/octet-stream"
    )


async def get_document(request: web.Request) -> web.Response:
    _sandbox, user = _phone_user(request)
    try:
        message_id = int(request.match_info["message_id"])
    except ValueError:
        raise web.HTTPNotFound(text="unknown message") from None
    message = next((m for m in user.messages if m.message_id == message_id), None)
    if message is None or message.document is None:
        raise web.HTTPNotFound(text="no document in this message")
    name, data = message.document
    safe = "".join(c for c in name if c.isalnum() or c in "._-") or "document"
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


def add_media_routes(app: web.Application) -> None:
    app.router.add_post("/api/phones/{user_id}/photo", post_photo)
    app.router.add_post("/api/phones/{user_id}/location", post_location)
    app.router.add_get("/api/phones/{user_id}/document/{message_id}", get_document)
    app.router.add_get("/api/files/{file_id}", get_file)
