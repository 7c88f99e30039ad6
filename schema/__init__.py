"""The GraphQL schema of the platform, assembled from the per-domain modules.

Note: this top-level ``schema`` package shares its name with an unrelated PyPI package; a
test checks that ``import schema`` is ours.
"""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from schema.accounts import AccountMutation, AccountQuery
from schema.attachments import AttachmentMutation
from schema.availability import AvailabilityQuery
from schema.calendar_feeds import CalendarFeedMutation, CalendarFeedQuery
from schema.circulation import CirculationMutation, CirculationQuery
from schema.clients import ApiClientMutation, ApiClientQuery, ClientScopeGuard
from schema.contacts import ContactLookupLog
from schema.delegation import DelegationMutation, DelegationQuery
from schema.devices import DeviceMutation, DeviceQuery
from schema.directory import DirectoryMutation, DirectoryQuery
from schema.document_actions import DocumentActionMutation
from schema.document_lifecycle import DocumentLifecycleMutation
from schema.document_lists import DocumentListMutation, DocumentListQuery
from schema.documents import DocumentMutation, DocumentQuery
from schema.errors import ErrorPolicy, OperationLog
from schema.incoming import IncomingMutation, IncomingQuery
from schema.limits import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS, InputGuard, QueryCostLimiter
from schema.meeting_attendance import MeetingAttendanceMutation, MeetingAttendanceQuery
from schema.meeting_notices import MeetingNoticeMutation, MeetingNoticeQuery
from schema.meeting_replies import MeetingReplyMutation, MeetingReplyQuery
from schema.meeting_schedule import MeetingScheduleMutation
from schema.meetings import MeetingMutation, MeetingQuery
from schema.notifications import NotificationMutation, NotificationQuery, NotificationSubscription
from schema.oidc import OidcMutation, OidcQuery
from schema.open_log import DocumentOpenLogWriter, OpenLogQuery
from schema.opinion_phrases import OpinionPhraseMutation, OpinionPhraseQuery
from schema.org import OrgMutation, OrgQuery
from schema.reminders import ReminderMutation, ReminderQuery
from schema.rooms import RoomMutation, RoomQuery
from schema.route_templates import RouteTemplateMutation, RouteTemplateQuery
from schema.sla_admin import SlaMutation, SlaQuery
from schema.supervision import SupervisionMutation, SupervisionQuery
from schema.totp import TotpMutation
from schema.unit_countersign import UnitCountersignMutation
from schema.webhooks import WebhookMutation, WebhookQuery
from schema.work_calendar import WorkCalendarMutation, WorkCalendarQuery

IS_OFFICE_API_SCHEMA = True


@strawberry.type(description="Read operations.")
class Query(
    OrgQuery,
    DocumentQuery,
    NotificationQuery,
    DeviceQuery,
    AccountQuery,
    DelegationQuery,
    DirectoryQuery,
    ApiClientQuery,
    OidcQuery,
    CirculationQuery,
    DocumentListQuery,
    OpinionPhraseQuery,
    OpenLogQuery,
    RouteTemplateQuery,
    IncomingQuery,
    WorkCalendarQuery,
    SlaQuery,
    SupervisionQuery,
    ReminderQuery,
    MeetingQuery,
    MeetingAttendanceQuery,
    CalendarFeedQuery,
    RoomQuery,
    MeetingNoticeQuery,
    MeetingReplyQuery,
    AvailabilityQuery,
    WebhookQuery,
):
    pass


@strawberry.type(description="Write operations. Each returns a payload with `errors: [UserError!]!`.")
class Mutation(
    OrgMutation,
    DocumentMutation,
    DocumentActionMutation,
    NotificationMutation,
    DeviceMutation,
    AccountMutation,
    DelegationMutation,
    DirectoryMutation,
    ApiClientMutation,
    OidcMutation,
    TotpMutation,
    UnitCountersignMutation,
    CirculationMutation,
    AttachmentMutation,
    DocumentListMutation,
    OpinionPhraseMutation,
    DocumentLifecycleMutation,
    RouteTemplateMutation,
    IncomingMutation,
    WorkCalendarMutation,
    SlaMutation,
    SupervisionMutation,
    ReminderMutation,
    MeetingMutation,
    MeetingAttendanceMutation,
    CalendarFeedMutation,
    MeetingScheduleMutation,
    RoomMutation,
    MeetingNoticeMutation,
    MeetingReplyMutation,
    WebhookMutation,
):
    pass


@strawberry.type(description="Live streams over graphql-transport-ws.")
class Subscription(NotificationSubscription):
    pass


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[
        ErrorPolicy,
        ClientScopeGuard,
        OperationLog,
        ContactLookupLog,
        DocumentOpenLogWriter,
        InputGuard,
        QueryCostLimiter,
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ],
)
