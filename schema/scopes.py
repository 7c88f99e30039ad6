"""What each root field needs when an integration client calls it.

Every root query, mutation and subscription field is listed in :data:`ROOT_FIELDS`, either
with the :class:`~office_api.clients.service.Scope` a client must hold, or as
:data:`USER_ONLY` (a person's own work, sign-in, and every administrator operation). A
contract test (tests/api/test_schema_contract.py) fails when a root field is missing here
or listed but gone. A client calling a user-only field, or a field whose scope it lacks,
gets a top-level ``FORBIDDEN`` error naming what is missing (:class:`ScopeRefused`);
unlisted fields count as user-only, so a forgotten entry never opens anything.

Users are not affected: for them the fields' permission classes decide, as before.
"""

from __future__ import annotations

from typing import Any

from office_api.clients.service import ClientPrincipal, Scope
from office_api.errors import AuthError, ErrorCode

#: Marks a root field that integration clients may not call.
USER_ONLY = None

ROOT_FIELDS: dict[str, Scope | None] = {
    # ---- queries
    "Query.me": USER_ONLY,
    "Query.orgUnit": Scope.DIRECTORY_READ,
    "Query.orgUnits": Scope.DIRECTORY_READ,
    "Query.directory": Scope.DIRECTORY_READ,
    "Query.exportOrganization": USER_ONLY,
    "Query.document": Scope.DOCUMENTS_READ,
    "Query.myTasks": USER_ONLY,
    "Query.myDoneTasks": USER_ONLY,
    "Query.myDraftedDocuments": USER_ONLY,
    "Query.myArchivedDocuments": USER_ONLY,
    "Query.searchDocuments": USER_ONLY,
    "Query.myOpinionPhrases": USER_ONLY,
    "Query.documentOpenLog": USER_ONLY,
    "Query.routePreview": USER_ONLY,
    "Query.notifications": USER_ONLY,
    "Query.unreadNotificationCount": USER_ONLY,
    "Query.unreadNotificationCounts": USER_ONLY,
    "Query.notificationReceipts": USER_ONLY,
    # a person's own phones and quiet hours (mobile push)
    "Query.myDevices": USER_ONLY,
    "Query.myQuietHours": USER_ONLY,
    "Query.auditLog": USER_ONLY,
    "Query.myDelegations": USER_ONLY,
    "Query.apiClient": USER_ONLY,
    "Query.apiClients": USER_ONLY,
    "Query.identityProvider": USER_ONLY,
    "Query.linkedIdentities": USER_ONLY,
    "Query.toRead": USER_ONLY,
    "Query.applicableRouteTemplates": USER_ONLY,
    "Query.routeTemplates": USER_ONLY,
    "Query.incomingDocuments": USER_ONLY,
    "Query.incomingDocument": USER_ONLY,
    "Query.myIncomingTasks": USER_ONLY,
    # the working-day calendar and SLA policies: province-wide reference data; no client scope
    # covers it yet (a calendar:read scope would), so people only
    "Query.workCalendar": USER_ONLY,
    "Query.workingDays": USER_ONLY,
    "Query.slaPolicies": USER_ONLY,
    "Query.resolveSlaPolicy": USER_ONLY,
    # supervision items (督办事项): a unit's people and leaders act and look at them
    "Query.supervisionItem": USER_ONLY,
    "Query.supervisionItems": USER_ONLY,
    "Query.supervisionDashboard": USER_ONLY,
    # meetings (会议): people's own calendars
    "Query.meeting": USER_ONLY,
    "Query.myMeetings": USER_ONLY,
    # check-in, attendance and minutes (签到、纪要): organisers and attendees in person
    "Query.meetingCheckInCode": USER_ONLY,
    "Query.meetingAttendance": USER_ONLY,
    "Query.meetingMinutes": USER_ONLY,
    # calendar feed URLs (iCalendar): a person's own secrets
    "Query.calendarFeeds": USER_ONLY,
    # meeting rooms (会议室): finding a free room and deciding bookings is people's work
    "Query.rooms": USER_ONLY,
    "Query.roomSchedule": USER_ONLY,
    "Query.pendingRoomBookings": USER_ONLY,
    "Query.myMeetingInvitations": USER_ONLY,
    "Query.meetingLeaveRequests": USER_ONLY,
    "Query.freeBusy": USER_ONLY,
    "Query.findMeetingTimes": USER_ONLY,
    "Query.extensionRequests": USER_ONLY,
    # webhooks of integration clients: administrators manage them
    "Query.webhooks": USER_ONLY,
    "Query.webhookDeadLetters": USER_ONLY,
    # ---- mutations: sign-in, own work, administration
    "Mutation.login": USER_ONLY,
    "Mutation.refreshToken": USER_ONLY,
    "Mutation.loginWithIdentityProvider": USER_ONLY,
    "Mutation.linkIdentity": USER_ONLY,
    "Mutation.unlinkIdentity": USER_ONLY,
    "Mutation.logout": USER_ONLY,
    "Mutation.changePassword": USER_ONLY,
    "Mutation.createOrgUnit": USER_ONLY,
    "Mutation.updateOrgUnit": USER_ONLY,
    "Mutation.moveOrgUnit": USER_ONLY,
    "Mutation.createUser": USER_ONLY,
    "Mutation.assignPosition": USER_ONLY,
    "Mutation.setPositionDuties": USER_ONLY,
    "Mutation.importOrganization": USER_ONLY,
    "Mutation.disableUser": USER_ONLY,
    "Mutation.enableUser": USER_ONLY,
    "Mutation.resetPassword": USER_ONLY,
    "Mutation.grantRole": USER_ONLY,
    "Mutation.revokeRole": USER_ONLY,
    "Mutation.handOverTasks": USER_ONLY,
    "Mutation.updateUserContact": USER_ONLY,
    "Mutation.registerApiClient": USER_ONLY,
    "Mutation.rotateApiClientSecret": USER_ONLY,
    "Mutation.revokeApiClient": USER_ONLY,
    "Mutation.createWebhook": USER_ONLY,
    "Mutation.updateWebhook": USER_ONLY,
    "Mutation.rotateWebhookSecret": USER_ONLY,
    "Mutation.deleteWebhook": USER_ONLY,
    "Mutation.replayWebhookDeliveries": USER_ONLY,
    "Mutation.startTotpEnrollment": USER_ONLY,
    "Mutation.confirmTotpEnrollment": USER_ONLY,
    "Mutation.disableTotp": USER_ONLY,
    "Mutation.resetTotp": USER_ONLY,
    "Mutation.createRouteTemplate": USER_ONLY,
    "Mutation.updateRouteTemplate": USER_ONLY,
    "Mutation.deleteRouteTemplate": USER_ONLY,
    "Mutation.loadWorkCalendarYear": USER_ONLY,
    "Mutation.createSlaPolicy": USER_ONLY,
    "Mutation.updateSlaPolicy": USER_ONLY,
    "Mutation.bindSlaPolicy": USER_ONLY,
    "Mutation.unbindSlaPolicy": USER_ONLY,
    # A draft belongs to its drafter and tasks to their assignees: routing on behalf of a
    # system needs its own operations (documents:route), not these.
    "Mutation.createDocument": USER_ONLY,
    "Mutation.updateDocument": USER_ONLY,
    "Mutation.submitDocument": USER_ONLY,
    "Mutation.approveTask": USER_ONLY,
    "Mutation.registerDocument": USER_ONLY,
    "Mutation.returnTask": USER_ONLY,
    "Mutation.uploadAttachment": USER_ONLY,
    "Mutation.removeAttachment": USER_ONLY,
    "Mutation.reorderAttachments": USER_ONLY,
    "Mutation.withdrawDocument": USER_ONLY,
    "Mutation.transferTask": USER_ONLY,
    "Mutation.delegateTask": USER_ONLY,
    "Mutation.addSigner": USER_ONLY,
    "Mutation.removeSigner": USER_ONLY,
    "Mutation.commentDocument": USER_ONLY,
    "Mutation.rerouteDocument": USER_ONLY,
    "Mutation.archiveDocument": USER_ONLY,
    "Mutation.addOpinionPhrase": USER_ONLY,
    "Mutation.updateOpinionPhrase": USER_ONLY,
    "Mutation.deleteOpinionPhrase": USER_ONLY,
    "Mutation.reorderOpinionPhrases": USER_ONLY,
    "Mutation.revokeDocument": USER_ONLY,
    "Mutation.repealDocument": USER_ONLY,
    "Mutation.markNotificationsRead": USER_ONLY,
    "Mutation.acknowledgeNotifications": USER_ONLY,
    "Mutation.registerDevice": USER_ONLY,
    "Mutation.unregisterDevice": USER_ONLY,
    "Mutation.setQuietHours": USER_ONLY,
    "Mutation.clearQuietHours": USER_ONLY,
    "Mutation.createDelegation": USER_ONLY,
    "Mutation.cancelDelegation": USER_ONLY,
    "Mutation.routeWithinUnit": USER_ONLY,
    "Mutation.cancelWithinUnit": USER_ONLY,
    "Mutation.circulateDocument": USER_ONLY,
    "Mutation.markCirculationRead": USER_ONLY,
    # dispatch (核发) and the incoming procedure (收文办理): a unit's people act on them
    "Mutation.dispatchDocument": USER_ONLY,
    "Mutation.registerExternalIncoming": USER_ONLY,
    # deadlines: urging (催办) and extension requests (延期) are a person's own work
    "Mutation.urgeDeadline": USER_ONLY,
    "Mutation.requestExtension": USER_ONLY,
    "Mutation.decideExtension": USER_ONLY,
    "Mutation.receiveIncoming": USER_ONLY,
    "Mutation.registerIncoming": USER_ONLY,
    "Mutation.precheckIncoming": USER_ONLY,
    "Mutation.proposeIncoming": USER_ONLY,
    "Mutation.instructIncoming": USER_ONLY,
    "Mutation.assignIncoming": USER_ONLY,
    "Mutation.handleIncoming": USER_ONLY,
    "Mutation.replyIncoming": USER_ONLY,
    "Mutation.closeIncoming": USER_ONLY,
    "Mutation.createSupervisionItem": USER_ONLY,
    "Mutation.reportSupervisionProgress": USER_ONLY,
    "Mutation.reportSupervisionResult": USER_ONLY,
    "Mutation.closeSupervisionItem": USER_ONLY,
    # meetings (会议)
    "Mutation.createMeeting": USER_ONLY,
    "Mutation.checkInToMeeting": USER_ONLY,
    "Mutation.draftMeetingMinutes": USER_ONLY,
    "Mutation.superviseDecidedMatter": USER_ONLY,
    "Mutation.createCalendarFeed": USER_ONLY,
    "Mutation.revokeCalendarFeed": USER_ONLY,
    "Mutation.cancelMeetingOccurrence": USER_ONLY,
    "Mutation.rescheduleMeeting": USER_ONLY,
    "Mutation.createRoom": USER_ONLY,
    "Mutation.updateRoom": USER_ONLY,
    "Mutation.retireRoom": USER_ONLY,
    "Mutation.approveRoomBooking": USER_ONLY,
    "Mutation.refuseRoomBooking": USER_ONLY,
    "Mutation.updateMeeting": USER_ONLY,
    "Mutation.cancelMeeting": USER_ONLY,
    "Mutation.inviteToMeeting": USER_ONLY,
    "Mutation.withdrawInvitation": USER_ONLY,
    "Mutation.nominateAttendees": USER_ONLY,
    "Mutation.replyToMeeting": USER_ONLY,
    "Mutation.requestMeetingLeave": USER_ONLY,
    "Mutation.decideMeetingLeave": USER_ONLY,
    # ---- subscriptions: a person's own notifications
    "Subscription.notifications": USER_ONLY,
}


class ScopeRefused(AuthError):
    """``FORBIDDEN`` for an integration client: the field is user-only (``scope`` None) or
    needs ``scope``, which the client's token lacks. The message names which."""

    def __init__(self, field: str, scope: Scope | None) -> None:
        super().__init__(ErrorCode.FORBIDDEN)
        self.scope = scope
        if scope is None:
            text = f"{field} is not available to integration clients (user-only)"
        else:
            text = f"{field} needs the scope {scope.value}, which this client's token lacks"
        self.args = (text,)


def requirement(type_name: str, field_name: str) -> Scope | None:
    """The scope a client needs for root field ``type_name.field_name`` (None: user-only)."""
    return ROOT_FIELDS.get(f"{type_name}.{field_name}", USER_ONLY)


def check_client(client: ClientPrincipal, type_name: str, field_name: str) -> Scope | None:
    """Raise :class:`ScopeRefused` unless ``client`` may call the root field; returns its scope
    (None for introspection: ``__typename``, ``__schema``, ``__type`` are open to clients)."""
    if field_name.startswith("__"):
        return None
    scope = requirement(type_name, field_name)
    if scope is None or not client.has(scope.value):
        raise ScopeRefused(field_name, scope)
    return scope


def client_admitted(info: Any) -> bool:
    """True when the request is an integration client's and the current root field is one
    it may call (the permission classes then let it through)."""
    client = getattr(info.context, "client", None)
    if client is None or info.path.prev is not None:
        return False
    scope = requirement(info.path.typename or "", info.field_name)
    return scope is not None and client.has(scope.value)
