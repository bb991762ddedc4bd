"""The channel layer of the embedded default (one process, no Redis): Channels' in-memory layer, with
the two costs that grow with the number of screens taken out of the per-message path.

- Channels sweeps every channel's queue and every group's members for expired entries on each
  group_send and each receive: with sixteen kitchen screens that is hundreds of entries looked at per
  order, for entries that expire after a minute (messages) or a day (memberships). Here the sweep runs
  at most once a second; it removes the same entries, a little later.
- group_send starts one task per member and waits for them all, where each send only puts the
  message on a queue: here the messages are put in turn, in the same order, with the same "a full
  channel loses the message, not the others" rule.

Messages are still deep-copied per receiver and still expire after `expiry` seconds; memberships
still expire after `group_expiry` (consumers re-join well before, see kds.consumers).
"""

import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

SWEEP_EVERY = 1.0  # seconds


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    _swept_at = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        super()._clean_expired()

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass
