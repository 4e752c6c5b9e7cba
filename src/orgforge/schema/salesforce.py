"""The Salesforce objects orgforge generates: fields (API names), types, picklists, lookups.

This is orgforge's own view of the objects, used by the generator, the world's tables and the
exporters. Order matters twice: OBJECTS is in load order (parents before children), and each
object's fields are in column order for the world and for exports.

Fields marked ``createable=False`` are kept in the world (the generator needs them to stay
consistent: IsClosed, CreatedDate, …) but never sent to an org or written to a load file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEY_FIELD = "Orgforge_Key__c"
"""External-ID field orgforge writes to every record: the record's stable local key."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # string textarea picklist int currency percent double date datetime boolean
    # email phone url reference
    length: int | None = None
    required: bool = False
    createable: bool = True
    text_kind: str | None = None  # the ContentRequest kind that fills it; None = structure
    # Text copied from another record's field ("Task.Subject") rather than asked for itself: an
    # EmailMessage shows its Task's text. Still text: a text provider changes it, nothing else.
    copy_of: str | None = None
    # An audit field (CreatedDate, CreatedById, …): read-only in an org unless it grants "Set
    # Audit Fields upon Record Creation"; load files carry it, a plain insert leaves it out.
    audit: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()

    @property
    def is_reference(self) -> bool:
        return self.type == "reference"

    @property
    def is_polymorphic(self) -> bool:
        return len(self.reference_to) > 1


@dataclass(frozen=True)
class SObject:
    name: str
    key_prefix: str  # the record-ID prefix a real org uses (001 for Account, …)
    fields: tuple[Field, ...]
    label_plural: str = ""
    _by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        return self._by_name[name]

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    @property
    def text_fields(self) -> tuple[Field, ...]:
        """Fields holding text (asked for, or copied from another record's text)."""
        return tuple(f for f in self.fields if f.text_kind)

    @property
    def references(self) -> tuple[Field, ...]:
        """Lookups to other generated records (not to Users: owners and audit fields)."""
        return tuple(
            f for f in self.fields if f.is_reference and f.name != "OwnerId" and not f.audit
        )


def _s(name: str, length: int = 255, **kw) -> Field:
    return Field(name, "string", length=length, **kw)


def _pick(name: str, values: tuple[str, ...], **kw) -> Field:
    return Field(name, "picklist", length=255, picklist=values, **kw)


def _ref(name: str, *to: str, rel: str, **kw) -> Field:
    return Field(name, "reference", length=18, reference_to=to, relationship_name=rel, **kw)


def _text(name: str, kind: str, length: int = 32000, type_: str = "textarea", **kw) -> Field:
    return Field(name, type_, length=length, text_kind=kind, **kw)


OWNER = _ref("OwnerId", "User", rel="Owner")
AUDIT_FIELD_NAMES = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")
AUDIT: tuple[Field, ...] = (
    Field("CreatedDate", "datetime", createable=False, audit=True),
    _ref("CreatedById", "User", rel="CreatedBy", createable=False, audit=True),
    Field("LastModifiedDate", "datetime", createable=False, audit=True),
    _ref("LastModifiedById", "User", rel="LastModifiedBy", createable=False, audit=True),
)
"""Every record's audit fields, last in its columns: consistent with the record's history."""

STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
# Salesforce's default stage → (probability %, forecast category).
STAGE_FACTS: dict[str, tuple[int, str]] = {
    "Prospecting": (10, "Pipeline"),
    "Qualification": (10, "Pipeline"),
    "Needs Analysis": (20, "Pipeline"),
    "Value Proposition": (50, "Pipeline"),
    "Proposal/Price Quote": (75, "Best Case"),
    "Negotiation/Review": (90, "Commit"),
    "Closed Won": (100, "Closed"),
    "Closed Lost": (0, "Omitted"),
}
CASE_STATUSES = ("New", "Working", "Escalated", "On Hold", "Closed")
CASE_PRIORITIES = ("High", "Medium", "Low")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
CONTACT_ROLES = (
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
)
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
ACCOUNT_TYPES = ("Prospect", "Customer - Direct", "Channel Partner / Reseller", "Other")

ACCOUNT = SObject(
    "Account",
    "001",
    (
        _s("Name", required=True),
        _pick("Industry", ("Insurance", "Finance", "Technology", "Manufacturing")),
        _pick("Type", ACCOUNT_TYPES),
        Field("Phone", "phone", length=40),
        Field("Website", "url", length=255),
        Field("AnnualRevenue", "currency"),
        Field("NumberOfEmployees", "int"),
        _text("Description", "account.description"),
        _s("BillingStreet"),
        _s("BillingCity", 40),
        _s("BillingState", 80),
        _s("BillingPostalCode", 20),
        _s("BillingCountry", 80),
        _pick("Rating", ("Hot", "Warm", "Cold")),
        _pick("AccountSource", LEAD_SOURCES),
        _ref("ParentId", "Account", rel="Parent"),
        OWNER,
        *AUDIT,
    ),
    "Accounts",
)

CONTACT = SObject(
    "Contact",
    "003",
    (
        _ref("AccountId", "Account", rel="Account"),
        _pick("Salutation", ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
        _s("FirstName", 40),
        _s("LastName", 80, required=True),
        _s("Title", 128),
        _s("Department", 80),
        Field("Email", "email", length=80),
        Field("Phone", "phone", length=40),
        Field("MobilePhone", "phone", length=40),
        _pick("LeadSource", LEAD_SOURCES),
        _s("MailingStreet"),
        _s("MailingCity", 40),
        _s("MailingState", 80),
        _s("MailingPostalCode", 20),
        _s("MailingCountry", 80),
        _ref("ReportsToId", "Contact", rel="ReportsTo"),
        OWNER,
        *AUDIT,
    ),
    "Contacts",
)

OPPORTUNITY = SObject(
    "Opportunity",
    "006",
    (
        _ref("AccountId", "Account", rel="Account"),
        _s("Name", 120, required=True),
        _pick("StageName", STAGES, required=True),
        Field("CloseDate", "date", required=True),
        Field("Amount", "currency"),
        Field("Probability", "percent"),
        _pick("ForecastCategoryName", ("Pipeline", "Best Case", "Commit", "Closed", "Omitted")),
        _pick(
            "Type",
            ("New Customer", "Existing Customer - Upgrade", "Existing Customer - Replacement"),
        ),
        _pick("LeadSource", LEAD_SOURCES),
        _text("NextStep", "opportunity.next_step", length=255, type_="string"),
        _text("Description", "opportunity.description"),
        Field("IsClosed", "boolean", createable=False),
        Field("IsWon", "boolean", createable=False),
        _ref("CampaignId", "Campaign", rel="Campaign"),
        _ref("Pricebook2Id", "Pricebook2", rel="Pricebook2"),
        OWNER,
        *AUDIT,
    ),
    "Opportunities",
)

OPPORTUNITY_CONTACT_ROLE = SObject(
    "OpportunityContactRole",
    "00K",
    (
        _ref("OpportunityId", "Opportunity", rel="Opportunity", required=True),
        _ref("ContactId", "Contact", rel="Contact", required=True),
        _pick("Role", CONTACT_ROLES),
        Field("IsPrimary", "boolean"),
        *AUDIT,
    ),
    "Contact Roles",
)

CASE = SObject(
    "Case",
    "500",
    (
        _ref("AccountId", "Account", rel="Account"),
        _ref("ContactId", "Contact", rel="Contact"),
        _text("Subject", "case.subject", length=255, type_="string"),
        _text("Description", "case.description"),
        _pick("Status", CASE_STATUSES, required=True),
        _pick("Priority", CASE_PRIORITIES),
        _pick("Origin", ("Phone", "Email", "Web")),
        _pick("Type", ("Problem", "Question", "Feature Request", "Other")),
        _s("Reason", 255),
        Field("IsEscalated", "boolean"),
        Field("IsClosed", "boolean", createable=False),
        Field("ClosedDate", "datetime", createable=False),
        OWNER,
        *AUDIT,
    ),
    "Cases",
)

CASE_COMMENT = SObject(
    "CaseComment",
    "00a",
    (
        _ref("ParentId", "Case", rel="Parent", required=True),
        _text("CommentBody", "case_comment.body", length=4000),
        Field("IsPublished", "boolean"),
        *AUDIT,
    ),
    "Case Comments",
)

TASK = SObject(
    "Task",
    "00T",
    (
        _text("Subject", "task.subject", length=255, type_="string"),
        _text("Description", "task.description"),
        _pick("Status", TASK_STATUSES, required=True),
        _pick("Priority", ("High", "Normal", "Low"), required=True),
        Field("ActivityDate", "date"),
        _pick("TaskSubtype", ("Task", "Email", "Call")),
        _pick("Type", ("Call", "Email", "Meeting", "Other")),
        _pick("CallType", ("Inbound", "Outbound", "Internal")),
        Field("CallDurationInSeconds", "int"),
        _ref("WhoId", "Contact", "Lead", rel="Who"),
        _ref("WhatId", "Account", "Opportunity", "Case", rel="What"),
        Field("IsClosed", "boolean", createable=False),
        OWNER,
        *AUDIT,
    ),
    "Tasks",
)

EVENT = SObject(
    "Event",
    "00U",
    (
        _text("Subject", "event.subject", length=255, type_="string"),
        _text("Description", "event.description"),
        Field("StartDateTime", "datetime"),
        Field("EndDateTime", "datetime"),
        Field("DurationInMinutes", "int"),
        Field("ActivityDateTime", "datetime"),
        _s("Location"),
        _pick("Type", ("Meeting", "Demo", "Call", "Other")),
        _pick("ShowAs", ("Busy", "Free", "OutOfOffice")),
        Field("IsAllDayEvent", "boolean"),
        _ref("WhoId", "Contact", "Lead", rel="Who"),
        _ref("WhatId", "Account", "Opportunity", "Case", rel="What"),
        OWNER,
        *AUDIT,
    ),
    "Events",
)

EVENT_RELATION = SObject(
    "EventRelation",
    "0RE",
    (
        _ref("EventId", "Event", rel="Event", required=True),
        _ref("RelationId", "Contact", "User", "Lead", rel="Relation", required=True),
        Field("IsInvitee", "boolean"),
        _pick("Status", ("New", "Accepted", "Declined")),
        *AUDIT,
    ),
    "Event Relations",
)
"""Invitees of a meeting (written by the activity job; the base generator makes none)."""

USER_ROLE = SObject(
    "UserRole",
    "00E",
    (
        _s("Name", 80, required=True),
        _s("DeveloperName", 80),
        _ref("ParentRoleId", "UserRole", rel="ParentRole"),
        *AUDIT,
    ),
    "Roles",
)
"""The sales org's role hierarchy (from the team file: see generate/team.py)."""

# Hours a User's working day starts and ends, as Salesforce's StartDay/EndDay picklists.
HOURS = tuple(str(h) for h in range(25))

USER = SObject(
    "User",
    "005",
    (
        _s("FirstName", 40),
        _s("LastName", 80, required=True),
        Field("Email", "email", length=128, required=True),
        _s("Username", 80),
        _s("Alias", 8),
        _s("Title", 80),
        _s("Department", 80),
        _s("Division", 80),  # the user's territory
        _ref("UserRoleId", "UserRole", rel="UserRole"),
        _ref("ManagerId", "User", rel="Manager"),
        _s("TimeZoneSidKey", 40),
        _pick("StartDay", HOURS),
        _pick("EndDay", HOURS),
        Field("IsActive", "boolean"),
        *AUDIT,
    ),
    "Users",
)

LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
CONVERTED_STATUS = LEAD_STATUSES[2]
CAMPAIGN_TYPES = ("Webinar", "Conference", "Trade Show", "Email", "Advertisement", "Partners")
CAMPAIGN_STATUSES = ("Planned", "In Progress", "Completed", "Aborted")
MEMBER_STATUSES = ("Sent", "Responded")
EMAIL_STATUSES = ("0", "1", "2", "3", "4", "5")  # New, Read, Replied, Sent, Forwarded, Draft

PRODUCT2 = SObject(
    "Product2",
    "01t",
    (
        _s("Name", required=True),
        _s("ProductCode", 255),
        _pick("Family", ("Software", "Services")),
        Field("IsActive", "boolean"),
        *AUDIT,
    ),
    "Products",
)
"""The packs' products (generate/catalog.py): one catalog for the whole world."""

PRICEBOOK2 = SObject(
    "Pricebook2",
    "01s",
    (
        _s("Name", required=True),
        Field("IsActive", "boolean"),
        # Salesforce's own: every org has exactly one standard price book, which a client can't
        # create; a load maps the world's onto it (targets/salesforce).
        Field("IsStandard", "boolean", createable=False),
        *AUDIT,
    ),
    "Price Books",
)

PRICEBOOK_ENTRY = SObject(
    "PricebookEntry",
    "01u",
    (
        _ref("Pricebook2Id", "Pricebook2", rel="Pricebook2", required=True),
        _ref("Product2Id", "Product2", rel="Product2", required=True),
        Field("UnitPrice", "currency", required=True),
        Field("IsActive", "boolean"),
        Field("UseStandardPrice", "boolean"),
        *AUDIT,
    ),
    "Price Book Entries",
)

CAMPAIGN = SObject(
    "Campaign",
    "701",
    (
        _s("Name", 80, required=True),
        _pick("Type", CAMPAIGN_TYPES),
        _pick("Status", CAMPAIGN_STATUSES),
        Field("StartDate", "date"),
        Field("EndDate", "date"),
        Field("IsActive", "boolean"),
        Field("BudgetedCost", "currency"),
        Field("ActualCost", "currency"),
        OWNER,
        *AUDIT,
    ),
    "Campaigns",
)

OPPORTUNITY_LINE_ITEM = SObject(
    "OpportunityLineItem",
    "00k",
    (
        _ref("OpportunityId", "Opportunity", rel="Opportunity", required=True),
        _ref("PricebookEntryId", "PricebookEntry", rel="PricebookEntry", required=True),
        # Salesforce sets Product2Id from the price book entry; kept for the world's readers.
        _ref("Product2Id", "Product2", rel="Product2", createable=False),
        Field("Quantity", "double", required=True),
        Field("UnitPrice", "currency"),  # the sales price, per unit
        Field("Discount", "percent"),
        # Quantity × UnitPrice × (1 − Discount/100); Salesforce computes it (a client sends
        # UnitPrice or TotalPrice, not both)
        Field("TotalPrice", "currency", createable=False),
        Field("ListPrice", "currency", createable=False),
        *AUDIT,
    ),
    "Opportunity Product",
)

LEAD = SObject(
    "Lead",
    "00Q",
    (
        _pick("Salutation", ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
        _s("FirstName", 40),
        _s("LastName", 80, required=True),
        _s("Company", required=True),
        _s("Title", 128),
        Field("Email", "email", length=80),
        Field("Phone", "phone", length=40),
        _pick("LeadSource", LEAD_SOURCES),
        _pick("Status", LEAD_STATUSES, required=True),
        _pick("Industry", ("Insurance", "Finance", "Technology", "Manufacturing")),
        _pick("Rating", ("Hot", "Warm", "Cold")),
        Field("NumberOfEmployees", "int"),
        _text("Description", "lead.description"),
        _s("City", 40),
        _s("State", 80),
        _s("Country", 80),
        # Set by Salesforce's lead conversion (convertLead), never by an insert.
        Field("IsConverted", "boolean", createable=False),
        Field("ConvertedDate", "date", createable=False),
        _ref("ConvertedAccountId", "Account", rel="ConvertedAccount", createable=False),
        _ref("ConvertedContactId", "Contact", rel="ConvertedContact", createable=False),
        _ref("ConvertedOpportunityId", "Opportunity", rel="ConvertedOpportunity", createable=False),
        OWNER,
        *AUDIT,
    ),
    "Leads",
)

CAMPAIGN_MEMBER = SObject(
    "CampaignMember",
    "00v",
    (
        _ref("CampaignId", "Campaign", rel="Campaign", required=True),
        _ref("LeadId", "Lead", rel="Lead"),
        _ref("ContactId", "Contact", rel="Contact"),
        _pick("Status", MEMBER_STATUSES),
        # Salesforce derives both from Status (a "responded" member status).
        Field("HasResponded", "boolean", createable=False),
        Field("FirstRespondedDate", "date", createable=False),
        *AUDIT,
    ),
    "Campaign Members",
)

EMAIL_MESSAGE = SObject(
    "EmailMessage",
    "02s",
    (
        _ref("ActivityId", "Task", rel="Activity"),
        _ref("RelatedToId", "Account", "Opportunity", "Case", rel="RelatedTo"),
        _text("Subject", "task.subject", length=3000, type_="string", copy_of="Task.Subject"),
        _text("TextBody", "task.description", copy_of="Task.Description"),
        _s("FromName", 1000),
        Field("FromAddress", "email", length=255),
        _s("ToAddress", 4000),
        Field("MessageDate", "datetime"),
        _pick("Status", EMAIL_STATUSES),
        Field("Incoming", "boolean"),
        *AUDIT,
    ),
    "Email Messages",
)
"""Enhanced Email: one per email Task (ActivityId), its Subject and TextBody the Task's."""


OBJECTS: tuple[SObject, ...] = (
    USER_ROLE,
    USER,
    PRODUCT2,
    PRICEBOOK2,
    PRICEBOOK_ENTRY,
    CAMPAIGN,
    ACCOUNT,
    CONTACT,
    OPPORTUNITY,
    OPPORTUNITY_LINE_ITEM,
    OPPORTUNITY_CONTACT_ROLE,
    LEAD,
    CAMPAIGN_MEMBER,
    CASE,
    CASE_COMMENT,
    TASK,
    EMAIL_MESSAGE,
    EVENT,
    EVENT_RELATION,
)
"""Every object orgforge generates, parents before children (the load order)."""

ORG_SETUP: tuple[str, ...] = ("UserRole", "User")
"""Objects that describe the sales org itself: exported, never loaded as records."""

NOT_LOADED: dict[str, str] = {
    "EmailMessage": (
        "an org takes ActivityId only for a case's email and creates the Task of any other "
        "email itself, so loading messages would duplicate the email Tasks loaded already"
    ),
}
"""Objects exported and described but not loaded into an org, and why (docs/salesforce.md)."""

BY_NAME: dict[str, SObject] = {o.name: o for o in OBJECTS}
GENERATED: tuple[str, ...] = tuple(o.name for o in OBJECTS)


def get(name: str) -> SObject:
    return BY_NAME[name]


def self_references(obj: SObject) -> tuple[Field, ...]:
    """Lookups to the same object (Contact.ReportsToId, Account.ParentId): a load sets them
    once both records exist."""
    return tuple(f for f in obj.references if f.reference_to == (obj.name,))
