"""The customer chat widget (console.widget): the page, its embed snippet, and the reference bot's
callback endpoint."""

from django.urls import path

from console import widget

app_name = "widget"

urlpatterns = [
    path("chat/<str:bot_id>/", widget.chat_page, name="chat"),
    path("chat/<str:bot_id>/embed", widget.embed_page, name="embed"),
    path("widget/callbacks/<str:bot_id>", widget.callback, name="callback"),
]
