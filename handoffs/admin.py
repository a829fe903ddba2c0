from django.contrib import admin

from handoffs import models


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


admin.site.register(models.Customer)
admin.site.register(models.Commitment)
admin.site.register(models.Belief)
admin.site.register(models.Observation)
admin.site.register(models.CsatRating)
