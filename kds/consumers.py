from channels.generic.websocket import AsyncWebsocketConsumer


class StationConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.close(code=4401)
