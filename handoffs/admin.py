from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from handoffs import models
from handoffs.errors import InvalidInput
from handoffs.knowledge import FIELDS, kb_article_clean, kb_article_upsert
from handoffs.services.callbacks import callbacks_retry


@admin.register(models.Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "routing_mode", "prepare_seconds")


@admin.register(models.AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "presence", "capacity", "is_supervisor")
    filter_horizontal = ("teams",)


class BotSecretInline(admin.TabularInline):
    model = models.BotSecret
    # Secrets are shown once at creation (create_bot); the admin never displays them.
    fields = ("created_at", "expires_at")
    readonly_fields = ("created_at",)
    extra = 0
    can_delete = True


@admin.register(models.Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = ("name", "bot_id", "team", "callback_url", "is_active")
    readonly_fields = ("bot_id",)
    inlines = (BotSecretInline,)


@admin.register(models.Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("external_id", "bot", "customer", "status", "updated_at")
    list_filter = ("status", "bot")
    search_fields = ("external_id", "customer__external_id")
    readonly_fields = ("context",)


@admin.register(models.Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ("id", "team", "status", "urgency", "queued_at", "agent")
    list_filter = ("status", "team", "urgency")
    readonly_fields = ("frame",)


class KnowledgeArticleForm(forms.ModelForm):
    class Meta:
        model = models.KnowledgeArticle
        fields = ("title", "slug", "language", "tags", "is_published", "body")
        help_texts = {"tags": 'A JSON list, e.g. ["refunds", "returns"].', "language": "en, es, es-MX…"}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data.update(kb_article_clean(**{name: data.get(name) for name in FIELDS}))
        except InvalidInput as error:
            raise forms.ValidationError(error.detail) from error
        return data


@admin.register(models.KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    form = KnowledgeArticleForm
    list_display = ("title", "slug", "language", "is_published", "updated_at")
    list_filter = ("language", "is_published")
    search_fields = ("title", "slug", "body")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("created_at", "updated_at")

    def save_model(self, request: Any, obj: models.KnowledgeArticle, form: Any, change: bool) -> None:
        # The same normalisation and write as the importer (kb_import), on this very object.
        kb_article_upsert(article=obj, **{name: form.cleaned_data[name] for name in FIELDS})


admin.site.register(models.Customer)
admin.site.register(models.Commitment)
admin.site.register(models.Belief)
admin.site.register(models.Observation)
admin.site.register(models.CsatRating)


class DeliveryAttemptInline(admin.TabularInline):
    model = models.DeliveryAttempt
    fields = ("at", "channel", "status_code", "latency_ms", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False


class FailingFilter(admin.SimpleListFilter):
    title = "delivery health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("failing", "Failing (retrying or given up)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "failing":
            return queryset.exclude(status=models.OutboundDelivery.Status.DELIVERED).filter(attempts__gte=1)
        return queryset


@admin.register(models.OutboundDelivery)
class OutboundDeliveryAdmin(admin.ModelAdmin):
    """Callbacks to bots: which are failing, every attempt, and a retry action."""

    list_display = ("type", "bot", "conversation", "status", "attempts", "next_attempt_at", "last_error")
    list_filter = (FailingFilter, "status", "type", "bot")
    readonly_fields = (
        "bot",
        "conversation",
        "handoff",
        "webhook_id",
        "type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "retry_until",
        "delivered_at",
        "last_error",
    )
    exclude = ("leased_until", "sent_at", "sent_to")
    inlines = (DeliveryAttemptInline,)
    actions = ("retry_now",)

    @admin.action(description="Retry the selected deliveries now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        count = callbacks_retry(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} deliveries queued to be sent again.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
