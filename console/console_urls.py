from django.urls import path

from console import dashboard, views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("presence", views.presence, name="presence"),
    path("handover", views.handover, name="handover"),
    path("handoffs/<uuid:handoff_id>/", views.handoff_page, name="handoff"),
    path("handoffs/<uuid:handoff_id>/state", views.handoff_state, name="handoff-state"),
    path("handoffs/<uuid:handoff_id>/claim", views.claim, name="claim"),
    path("handoffs/<uuid:handoff_id>/connect", views.connect, name="connect"),
    path("handoffs/<uuid:handoff_id>/messages", views.message, name="message"),
    path("handoffs/<uuid:handoff_id>/resolve", views.resolve, name="resolve"),
    path("handoffs/<uuid:handoff_id>/transfer", views.transfer, name="transfer"),
    path("handoffs/<uuid:handoff_id>/return", views.return_to_bot, name="return"),
    # Warm transfers' overlap window and supervisors' live actions (handoffs/services/transfers.py)
    path("handoffs/<uuid:handoff_id>/notes", views.note, name="note"),
    path("handoffs/<uuid:handoff_id>/take-over", views.take_over, name="take-over"),
    path("handoffs/<uuid:handoff_id>/cancel-transfer", views.cancel_transfer, name="cancel-transfer"),
    path("handoffs/<uuid:handoff_id>/reassign", views.reassign, name="reassign"),
    path("handoffs/<uuid:handoff_id>/beliefs", views.belief, name="belief"),
    path("handoffs/<uuid:handoff_id>/draft-check", views.draft_check_view, name="draft-check"),
    path("handoffs/<uuid:handoff_id>/commitments/<int:commitment_id>", views.commitment, name="commitment"),
    # Supervisors (console/dashboard.py)
    path("supervisor/", dashboard.dashboard_page, name="dashboard"),
    path("supervisor/report.csv", dashboard.report_csv, name="dashboard-csv"),
    path("supervisor/floor", dashboard.floor_partial, name="floor"),
    path("supervisor/breakdown/<str:by>", dashboard.breakdown_partial, name="dashboard-breakdown"),
    path("supervisor/handoffs/", dashboard.handoff_list, name="supervisor-handoffs"),
    path("supervisor/handoffs/<uuid:handoff_id>/", dashboard.handoff_frame, name="supervisor-handoff"),
    path("supervisor/handoffs/<uuid:handoff_id>/live", dashboard.handoff_observe, name="supervisor-observe"),
]
