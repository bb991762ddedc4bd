from channels.generic.websocket import AsyncWebsocketConsumer


class Screen(AsyncWebsocketConsumer):
    async def connect(self):
        await self.channel_layer.group_add("kitchen", self.channel_name)
        await self.accept()
        await self.send(text_data='<div id="kds-meta" data-seq="0"></div>')

    async def disconnect(self, code):
        await self.channel_layer.group_discard("kitchen", self.channel_name)

    async def ticket_new(self, event):
        await self.send(text_data=event["html"])
