"""The work queue: text messages sent base64-encoded, as the Functions queue trigger decodes them."""

from __future__ import annotations

from collections.abc import Iterable

from azure.storage.queue import QueueClient

# A queue message may hold 64 KiB; the limit applies to the base64 text the service stores
# (learn.microsoft.com/rest/api/storageservices/put-message).
MAX_MESSAGE_BYTES = 64 * 1024
# Work must not expire unseen: a job finalises only once every chunk has been processed.
NEVER_EXPIRES = -1


def encoded_size(text: str) -> int:
    """The size of *text* once UTF-8 and base64 encoded."""
    return 4 * -(-len(text.encode("utf-8")) // 3)


class WorkQueue:
    """Sends work messages over a ``QueueClient`` built by ``storage.build_queue`` (base64 policies)."""

    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    def send(self, text: str) -> None:
        """Send one message; raise ``ValueError`` when it exceeds 64 KiB after base64 encoding."""
        size = encoded_size(text)
        if size > MAX_MESSAGE_BYTES:
            msg = f"queue message of {size} bytes after base64 exceeds the {MAX_MESSAGE_BYTES}-byte limit"
            raise ValueError(msg)
        self._queue.send_message(text, time_to_live=NEVER_EXPIRES)

    def send_many(self, texts: Iterable[str]) -> int:
        """Send each message in turn (the queue service has no batch send); return how many were sent."""
        count = 0
        for text in texts:
            self.send(text)
            count += 1
        return count
