"""The org's own metadata: objects, fields, picklists and relationships, and their describe output.

The sandbox is an org, not a mirror of orgforge: it ships describe data for the standard objects
it serves (Account, Contact, Opportunity, OpportunityContactRole, Case, CaseComment, Task, Event,
EventRelation, Lead, User) and adds custom fields and objects from a schema file
(see :mod:`orgforge.sandbox.salesforce.schema_file`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Field types and the SOAP type describe reports for each.
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "picklist": "xsd:string",
    "multipicklist": "xsd:string",
    "phone": "xsd:string",
    "email": "xsd:string",
    "url": "xsd:string",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}
TEXT_TYPES = {"string", "textarea", "picklist", "multipicklist", "phone", "email", "url"}
NUMBER_TYPES = {"int", "double", "currency", "percent"}
DEFAULT_LENGTHS = {
    "string": 255,
    "textarea": 32000,
    "picklist": 255,
    "multipicklist": 4099,
    "phone": 40,
    "email": 80,
    "url": 255,
    "id": 18,
    "reference": 18,
}


@dataclass
class Field:
    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default: Any = None
    picklist: list[str] = field(default_factory=list)
    picklist_default: str | None = None
    restricted: bool = False
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    child_relationship: str | None = None  # name of the parent's child relationship
    delete_constraint: str = "set_null"  # set_null | cascade | restrict
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    id_lookup: bool = False
    custom: bool = False
    calculated: bool = False
    name_field: bool = False
    auto_number: bool = False
    html_formatted: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label(self.name)
        if not self.length and self.type in DEFAULT_LENGTHS:
            self.length = DEFAULT_LENGTHS[self.type]
        if self.type == "currency" and not self.precision:
            self.precision, self.scale = 18, 2
        if self.type == "double" and not self.precision:
            self.precision, self.scale = 18, 0
        if self.type == "percent" and not self.precision:
            self.precision, self.scale = 3, 0
        if self.type == "int" and not self.precision:
            self.precision = 9
        if self.external_id or self.unique or self.type == "id":
            self.id_lookup = True

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1

    @property
    def required(self) -> bool:
        return not self.nillable and self.createable and not self.defaulted_on_create

    def describe(self) -> dict[str, Any]:
        is_text = self.type in TEXT_TYPES or self.type in ("id", "reference")
        return {
            "aggregatable": self.type not in ("textarea",),
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3 if is_text else 0,
            "calculated": self.calculated,
            "cascadeDelete": self.delete_constraint == "cascade",
            "caseSensitive": self.case_sensitive,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if not isinstance(self.default, bool) else None,
            "defaultedOnCreate": self.defaulted_on_create,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": self.precision if self.type == "int" else 0,
            "externalId": self.external_id,
            "filterable": self.type != "textarea" or self.length <= 255,
            "groupable": self.type not in ("double", "currency", "percent", "textarea"),
            "htmlFormatted": self.html_formatted,
            "idLookup": self.id_lookup,
            "label": self.label,
            "length": self.length if is_text else 0,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "permissionable": self.nillable and self.createable and not self.name_field,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.picklist_default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "polymorphicForeignKey": self.polymorphic,
            "precision": self.precision if self.type in ("double", "currency", "percent") else 0,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": self.delete_constraint == "restrict",
            "restrictedPicklist": self.restricted,
            "scale": self.scale if self.type in ("double", "currency", "percent") else 0,
            "soapType": SOAP_TYPES[self.type],
            "sortable": self.type != "textarea" or self.length <= 255,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass
class SObject:
    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: dict[str, Field] = field(default_factory=dict)
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    # lower-case name → canonical field name; relationship name (lower) → field
    _by_lower: dict[str, str] = field(default_factory=dict, repr=False)
    _by_relationship: dict[str, str] = field(default_factory=dict, repr=False)

    def add(self, f: Field) -> None:
        self.fields[f.name] = f
        self._by_lower[f.name.lower()] = f.name
        if f.relationship_name:
            self._by_relationship[f.relationship_name.lower()] = f.name

    def field(self, name: str) -> Field | None:
        canonical = self._by_lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def relationship(self, name: str) -> Field | None:
        canonical = self._by_relationship.get(name.lower())
        return self.fields[canonical] if canonical else None

    @property
    def name_field(self) -> Field | None:
        return next((f for f in self.fields.values() if f.name_field), None)

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "compactLayouts": f"{base}/describe/compactLayouts",
            "rowTemplate": f"{base}/{{ID}}",
            "approvalLayouts": f"{base}/describe/approvalLayouts",
            "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
            "listviews": f"{base}/listviews",
            "describe": f"{base}/describe",
            "quickActions": f"{base}/quickActions",
            "layouts": f"{base}/describe/layouts",
            "sobject": base,
        }

    def global_describe(self, version: str) -> dict[str, Any]:
        return {
            "activateable": False,
            "createable": self.createable,
            "custom": self.custom,
            "customSetting": False,
            "deepCloneable": False,
            "deletable": self.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "hasSubtypes": False,
            "isInterface": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Account", "Contact", "Lead", "Case"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.deletable,
            "updateable": self.updateable,
            "urls": self.urls(version),
        }


def _label(name: str) -> str:
    base = name.removesuffix("__c").replace("_", " ")
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2] + " ID"
    out = []
    for i, char in enumerate(base):
        if i and char.isupper() and base[i - 1].islower():
            out.append(" ")
        out.append(char)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Standard objects

OPPORTUNITY_STAGES: dict[str, tuple[int, str, bool, bool]] = {
    # stage: (default probability, forecast category name, closed, won)
    "Prospecting": (10, "Pipeline", False, False),
    "Qualification": (10, "Pipeline", False, False),
    "Needs Analysis": (20, "Pipeline", False, False),
    "Value Proposition": (50, "Pipeline", False, False),
    "Id. Decision Makers": (60, "Pipeline", False, False),
    "Perception Analysis": (70, "Pipeline", False, False),
    "Proposal/Price Quote": (75, "Pipeline", False, False),
    "Negotiation/Review": (90, "Pipeline", False, False),
    "Closed Won": (100, "Closed", True, True),
    "Closed Lost": (0, "Omitted", True, False),
}
FORECAST_CATEGORY = {
    "Omitted": "Omitted",
    "Pipeline": "Pipeline",
    "Best Case": "BestCase",
    "Commit": "Forecast",
    "Closed": "Closed",
}
CASE_STATUSES = ["New", "Working", "Escalated", "On Hold", "Closed"]
CASE_CLOSED = {"Closed"}
TASK_STATUSES = ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"]
TASK_CLOSED = {"Completed"}
LEAD_STATUSES = [
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]
INDUSTRIES = [
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
]
LEAD_SOURCES = [
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
    "Advertisement",
    "Employee Referral",
    "External Referral",
    "Partner",
    "Public Relations",
    "Seminar - Internal",
    "Seminar - Partner",
    "Trade Show",
    "Word of mouth",
]
ACTIVITY_TYPES = ["Call", "Email", "Meeting", "Demo", "Other"]
TIME_ZONES = [
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
    "GMT",
]

SYSTEM_FIELDS = (
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


def _system_fields(obj: SObject) -> None:
    ro = {"createable": False, "updateable": False, "nillable": False, "defaulted_on_create": True}
    obj.add(Field("Id", "id", label=f"{obj.label} ID", **ro))
    obj.add(Field("IsDeleted", "boolean", label="Deleted", **ro))
    obj.add(Field("CreatedDate", "datetime", label="Created Date", **ro))
    obj.add(
        Field(
            "CreatedById",
            "reference",
            label="Created By ID",
            reference_to=["User"],
            relationship_name="CreatedBy",
            **ro,
        )
    )
    obj.add(Field("LastModifiedDate", "datetime", label="Last Modified Date", **ro))
    obj.add(
        Field(
            "LastModifiedById",
            "reference",
            label="Last Modified By ID",
            reference_to=["User"],
            relationship_name="LastModifiedBy",
            **ro,
        )
    )
    obj.add(Field("SystemModstamp", "datetime", label="System Modstamp", **ro))


def _owner(obj: SObject, refs: list[str] | None = None, child: str | None = None) -> None:
    obj.add(
        Field(
            "OwnerId",
            "reference",
            label="Owner ID",
            reference_to=refs or ["User"],
            relationship_name="Owner",
            child_relationship=child,
            nillable=False,
            defaulted_on_create=True,
        )
    )


def _address(obj: SObject, prefix: str) -> None:
    obj.add(Field(f"{prefix}Street", "textarea", length=255, label=f"{prefix} Street"))
    obj.add(Field(f"{prefix}City", "string", length=40, label=f"{prefix} City"))
    obj.add(Field(f"{prefix}State", "string", length=80, label=f"{prefix} State/Province"))
    obj.add(Field(f"{prefix}PostalCode", "string", length=20, label=f"{prefix} Zip/Postal Code"))
    obj.add(Field(f"{prefix}Country", "string", length=80, label=f"{prefix} Country"))


def _picklist(name: str, values: list[str], **kw: Any) -> Field:
    return Field(name, "picklist", picklist=list(values), **kw)


def _ref(name: str, to: list[str], rel: str, child: str | None = None, **kw: Any) -> Field:
    return Field(
        name, "reference", reference_to=to, relationship_name=rel, child_relationship=child, **kw
    )


def _obj(name: str, prefix: str, label: str, plural: str, **kw: Any) -> SObject:
    obj = SObject(name, prefix, label, plural, **kw)
    _system_fields(obj)
    return obj


def standard_objects() -> dict[str, SObject]:
    """Fresh definitions of the standard objects (callers may add custom fields to them)."""
    objs: dict[str, SObject] = {}

    user = _obj("User", "005", "User", "Users", createable=False, deletable=False)
    user.add(Field("Username", "string", length=80, nillable=False, unique=True))
    user.add(Field("FirstName", "string", length=40))
    user.add(Field("LastName", "string", length=80, nillable=False))
    user.add(
        Field("Name", "string", length=121, label="Full Name", createable=False, updateable=False)
    )
    user.fields["Name"].name_field = True
    user.add(Field("Alias", "string", length=8, nillable=False))
    user.add(Field("Email", "email", nillable=False))
    user.add(Field("Title", "string", length=80))
    user.add(Field("Department", "string", length=80))
    user.add(Field("Phone", "phone"))
    user.add(Field("IsActive", "boolean", label="Active", nillable=False, defaulted_on_create=True))
    user.add(_picklist("TimeZoneSidKey", TIME_ZONES, label="Time Zone", nillable=False))
    user.add(Field("LocaleSidKey", "picklist", label="Locale", nillable=False))
    user.add(Field("LanguageLocaleKey", "picklist", label="Language", nillable=False))
    user.add(Field("EmailEncodingKey", "picklist", label="Email Encoding", nillable=False))
    user.add(Field("ProfileName", "string", length=80, label="Profile Name", updateable=False))
    user.add(_picklist("UserType", ["Standard"], createable=False, updateable=False))
    objs["User"] = user

    account = _obj("Account", "001", "Account", "Accounts")
    account.add(Field("Name", "string", length=255, label="Account Name", nillable=False))
    account.fields["Name"].name_field = True
    account.add(_ref("ParentId", ["Account"], "Parent", "ChildAccounts", label="Parent Account ID"))
    account.add(
        _picklist(
            "Type",
            [
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Channel Partner / Reseller",
                "Installation Partner",
                "Technology Partner",
                "Other",
            ],
            label="Account Type",
        )
    )
    account.add(_picklist("Industry", INDUSTRIES))
    account.add(Field("Phone", "phone", label="Account Phone"))
    account.add(Field("Fax", "phone", label="Account Fax"))
    account.add(Field("Website", "url"))
    account.add(Field("AnnualRevenue", "currency", label="Annual Revenue"))
    account.add(Field("NumberOfEmployees", "int", precision=8, label="Employees"))
    account.add(Field("Description", "textarea", label="Account Description"))
    _address(account, "Billing")
    _address(account, "Shipping")
    account.add(_picklist("Rating", ["Hot", "Warm", "Cold"], label="Account Rating"))
    account.add(_picklist("AccountSource", LEAD_SOURCES, label="Account Source"))
    account.add(Field("AccountNumber", "string", length=40, label="Account Number"))
    account.add(Field("Site", "string", length=80, label="Account Site"))
    _owner(account, child="Accounts")
    objs["Account"] = account

    contact = _obj("Contact", "003", "Contact", "Contacts")
    contact.add(
        _ref("AccountId", ["Account"], "Account", "Contacts", label="Account ID")
    )  # cascade on account delete
    contact.fields["AccountId"].delete_constraint = "cascade"
    contact.add(
        _picklist("Salutation", ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."], label="Salutation")
    )
    contact.add(Field("FirstName", "string", length=40, label="First Name"))
    contact.add(Field("LastName", "string", length=80, label="Last Name", nillable=False))
    contact.add(
        Field("Name", "string", length=121, label="Full Name", createable=False, updateable=False)
    )
    contact.fields["Name"].name_field = True
    contact.add(Field("Title", "string", length=128))
    contact.add(Field("Department", "string", length=80))
    contact.add(Field("Email", "email", id_lookup=True))
    contact.add(Field("Phone", "phone", label="Business Phone"))
    contact.add(Field("MobilePhone", "phone", label="Mobile Phone"))
    contact.add(_picklist("LeadSource", LEAD_SOURCES, label="Lead Source"))
    _address(contact, "Mailing")
    contact.add(Field("Birthdate", "date"))
    contact.add(Field("Description", "textarea", label="Contact Description"))
    contact.add(_ref("ReportsToId", ["Contact"], "ReportsTo", None, label="Reports To ID"))
    _owner(contact)
    objs["Contact"] = contact

    opp = _obj("Opportunity", "006", "Opportunity", "Opportunities")
    opp.add(_ref("AccountId", ["Account"], "Account", "Opportunities", label="Account ID"))
    opp.fields["AccountId"].delete_constraint = "cascade"
    opp.add(Field("Name", "string", length=120, nillable=False))
    opp.fields["Name"].name_field = True
    opp.add(Field("Description", "textarea"))
    opp.add(
        _picklist(
            "StageName", list(OPPORTUNITY_STAGES), label="Stage", nillable=False, restricted=True
        )
    )
    opp.add(Field("Amount", "currency"))
    opp.add(Field("Probability", "percent", label="Probability (%)", defaulted_on_create=True))
    opp.add(Field("CloseDate", "date", label="Close Date", nillable=False))
    opp.add(
        _picklist(
            "Type",
            [
                "Existing Customer - Upgrade",
                "Existing Customer - Replacement",
                "Existing Customer - Downgrade",
                "New Customer",
            ],
            label="Opportunity Type",
        )
    )
    opp.add(Field("NextStep", "string", length=255, label="Next Step"))
    opp.add(_picklist("LeadSource", LEAD_SOURCES, label="Lead Source"))
    opp.add(
        Field(
            "IsClosed",
            "boolean",
            label="Closed",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
            calculated=True,
        )
    )
    opp.add(
        Field(
            "IsWon",
            "boolean",
            label="Won",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
            calculated=True,
        )
    )
    opp.add(
        _picklist(
            "ForecastCategory",
            ["Omitted", "Pipeline", "BestCase", "Forecast", "Closed"],
            label="Forecast Category",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
            calculated=True,
        )
    )
    opp.add(
        _picklist(
            "ForecastCategoryName",
            list(FORECAST_CATEGORY),
            label="Forecast Category",
            restricted=True,
            defaulted_on_create=True,
        )
    )
    opp.add(
        Field(
            "ExpectedRevenue",
            "currency",
            label="Expected Amount",
            createable=False,
            updateable=False,
            calculated=True,
        )
    )
    opp.add(Field("FiscalYear", "int", createable=False, updateable=False, calculated=True))
    opp.add(Field("FiscalQuarter", "int", createable=False, updateable=False, calculated=True))
    _owner(opp)
    objs["Opportunity"] = opp

    ocr = _obj(
        "OpportunityContactRole", "00K", "Opportunity Contact Role", "Opportunity Contact Roles"
    )
    ocr.add(
        _ref(
            "OpportunityId",
            ["Opportunity"],
            "Opportunity",
            "OpportunityContactRoles",
            label="Opportunity ID",
            nillable=False,
            updateable=False,
        )
    )
    ocr.fields["OpportunityId"].delete_constraint = "cascade"
    ocr.add(
        _ref(
            "ContactId",
            ["Contact"],
            "Contact",
            "OpportunityContactRoles",
            label="Contact ID",
            nillable=False,
        )
    )
    ocr.fields["ContactId"].delete_constraint = "cascade"
    ocr.add(
        _picklist(
            "Role",
            [
                "Business User",
                "Decision Maker",
                "Economic Buyer",
                "Economic Decision Maker",
                "Evaluator",
                "Executive Sponsor",
                "Influencer",
                "Technical Buyer",
                "Other",
            ],
        )
    )
    ocr.add(
        Field("IsPrimary", "boolean", label="Primary", nillable=False, defaulted_on_create=True)
    )
    objs["OpportunityContactRole"] = ocr

    case = _obj("Case", "500", "Case", "Cases")
    case.add(
        Field(
            "CaseNumber",
            "string",
            length=30,
            label="Case Number",
            createable=False,
            updateable=False,
            auto_number=True,
            nillable=False,
            defaulted_on_create=True,
        )
    )
    case.fields["CaseNumber"].name_field = True
    case.add(_ref("AccountId", ["Account"], "Account", "Cases", label="Account ID"))
    case.fields["AccountId"].delete_constraint = "cascade"
    case.add(
        _ref("ContactId", ["Contact"], "Contact", "Cases", label="Contact ID")
    )  # deleting a contact with cases is refused
    case.fields["ContactId"].delete_constraint = "restrict"
    case.add(_ref("ParentId", ["Case"], "Parent", None, label="Parent Case ID"))
    case.add(Field("Subject", "string", length=255))
    case.add(Field("Description", "textarea"))
    case.add(
        _picklist(
            "Status", CASE_STATUSES, defaulted_on_create=True, picklist_default="New", default="New"
        )
    )
    case.add(
        _picklist(
            "Priority",
            ["High", "Medium", "Low"],
            defaulted_on_create=True,
            picklist_default="Medium",
            default="Medium",
        )
    )
    case.add(_picklist("Origin", ["Phone", "Email", "Web"], label="Case Origin"))
    case.add(
        _picklist(
            "Type",
            [
                "Mechanical",
                "Electrical",
                "Electronic",
                "Structural",
                "Other",
                "Question",
                "Problem",
                "Feature Request",
            ],
            label="Case Type",
        )
    )
    case.add(
        _picklist(
            "Reason",
            [
                "Installation",
                "Equipment Complexity",
                "Performance",
                "Breakdown",
                "Equipment Design",
                "Feedback",
                "Other",
                "User didn't attend training",
                "Complex functionality",
                "Existing problem",
                "Instructions not clear",
                "New problem",
            ],
            label="Case Reason",
        )
    )
    case.add(
        Field("IsEscalated", "boolean", label="Escalated", nillable=False, defaulted_on_create=True)
    )
    case.add(
        Field(
            "IsClosed",
            "boolean",
            label="Closed",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
        )
    )
    case.add(
        Field("ClosedDate", "datetime", label="Closed Date", createable=False, updateable=False)
    )
    case.add(Field("SuppliedName", "string", length=80, label="Web Name"))
    case.add(Field("SuppliedEmail", "email", label="Web Email"))
    _owner(case, ["Group", "User"])
    objs["Case"] = case

    comment = _obj("CaseComment", "00a", "Case Comment", "Case Comments")
    comment.add(
        _ref(
            "ParentId",
            ["Case"],
            "Parent",
            "CaseComments",
            label="Parent Case ID",
            nillable=False,
            updateable=False,
        )
    )
    comment.fields["ParentId"].delete_constraint = "cascade"
    comment.add(Field("CommentBody", "textarea", length=4000, label="Body"))
    comment.add(
        Field("IsPublished", "boolean", label="Published", nillable=False, defaulted_on_create=True)
    )
    objs["CaseComment"] = comment

    task = _obj("Task", "00T", "Task", "Tasks")
    _activity_fields(task)
    task.add(
        _picklist(
            "Status",
            TASK_STATUSES,
            nillable=False,
            defaulted_on_create=True,
            picklist_default="Not Started",
            default="Not Started",
            restricted=True,
        )
    )
    task.add(
        _picklist(
            "Priority",
            ["High", "Normal", "Low"],
            nillable=False,
            defaulted_on_create=True,
            picklist_default="Normal",
            default="Normal",
        )
    )
    task.add(Field("ActivityDate", "date", label="Due Date Only"))
    task.add(
        _picklist(
            "TaskSubtype",
            ["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"],
            label="Task Subtype",
            updateable=False,
        )
    )
    task.add(_picklist("CallType", ["Internal", "Inbound", "Outbound"], label="Call Type"))
    task.add(Field("CallDurationInSeconds", "int", label="Call Duration"))
    task.add(Field("CallDisposition", "string", length=255, label="Call Result"))
    task.add(
        Field(
            "IsClosed",
            "boolean",
            label="Closed",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
        )
    )
    task.add(
        Field(
            "IsHighPriority",
            "boolean",
            label="High Priority",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
        )
    )
    task.add(
        Field(
            "CompletedDateTime",
            "datetime",
            label="Completed Date/Time",
            createable=False,
            updateable=False,
        )
    )
    objs["Task"] = task

    event = _obj("Event", "00U", "Event", "Events")
    _activity_fields(event)
    event.add(Field("StartDateTime", "datetime", label="Start Date Time"))
    event.add(Field("EndDateTime", "datetime", label="End Date Time"))
    event.add(Field("ActivityDateTime", "datetime", label="Due Date Time"))
    event.add(Field("ActivityDate", "date", label="Due Date Only"))
    event.add(Field("DurationInMinutes", "int", label="Duration"))
    event.add(Field("Location", "string", length=255))
    event.add(
        _picklist(
            "ShowAs",
            ["Busy", "OutOfOffice", "Free"],
            label="Show Time As",
            defaulted_on_create=True,
            picklist_default="Busy",
            default="Busy",
        )
    )
    event.add(
        Field(
            "IsAllDayEvent",
            "boolean",
            label="All-Day Event",
            nillable=False,
            defaulted_on_create=True,
        )
    )
    event.add(
        Field("IsPrivate", "boolean", label="Private", nillable=False, defaulted_on_create=True)
    )
    event.add(_picklist("EventSubtype", ["Event"], label="Event Subtype", updateable=False))
    objs["Event"] = event

    relation = _obj("EventRelation", "0RE", "Event Relation", "Event Relations")
    relation.add(
        _ref(
            "EventId",
            ["Event"],
            "Event",
            "EventRelations",
            label="Event ID",
            nillable=False,
            updateable=False,
        )
    )
    relation.fields["EventId"].delete_constraint = "cascade"
    relation.add(
        _ref(
            "RelationId",
            ["Contact", "Lead", "User"],
            "Relation",
            None,
            label="Relation ID",
            nillable=False,
            updateable=False,
        )
    )
    relation.fields["RelationId"].delete_constraint = "cascade"
    relation.add(
        _picklist(
            "Status",
            ["New", "Declined", "Accepted"],
            defaulted_on_create=True,
            picklist_default="New",
            default="New",
        )
    )
    relation.add(Field("Response", "string", length=255))
    relation.add(Field("IsParent", "boolean", nillable=False, defaulted_on_create=True))
    relation.add(Field("IsInvitee", "boolean", nillable=False, defaulted_on_create=True))
    relation.add(
        Field(
            "IsWhat",
            "boolean",
            nillable=False,
            defaulted_on_create=True,
            createable=False,
            updateable=False,
        )
    )
    objs["EventRelation"] = relation

    lead = _obj("Lead", "00Q", "Lead", "Leads")
    lead.add(_picklist("Salutation", ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."]))
    lead.add(Field("FirstName", "string", length=40, label="First Name"))
    lead.add(Field("LastName", "string", length=80, label="Last Name", nillable=False))
    lead.add(
        Field("Name", "string", length=121, label="Full Name", createable=False, updateable=False)
    )
    lead.fields["Name"].name_field = True
    lead.add(Field("Company", "string", length=255, nillable=False))
    lead.add(Field("Title", "string", length=128))
    lead.add(Field("Email", "email", id_lookup=True))
    lead.add(Field("Phone", "phone"))
    lead.add(Field("MobilePhone", "phone", label="Mobile Phone"))
    lead.add(Field("Website", "url"))
    lead.add(_picklist("LeadSource", LEAD_SOURCES, label="Lead Source"))
    lead.add(
        _picklist(
            "Status",
            LEAD_STATUSES,
            label="Lead Status",
            nillable=False,
            defaulted_on_create=True,
            picklist_default="Open - Not Contacted",
            default="Open - Not Contacted",
            restricted=True,
        )
    )
    lead.add(_picklist("Industry", INDUSTRIES))
    lead.add(_picklist("Rating", ["Hot", "Warm", "Cold"]))
    lead.add(Field("AnnualRevenue", "currency", label="Annual Revenue"))
    lead.add(Field("NumberOfEmployees", "int", precision=8, label="Employees"))
    lead.add(Field("Description", "textarea"))
    _address(lead, "")
    lead.add(
        Field(
            "IsConverted",
            "boolean",
            label="Converted",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
        )
    )
    _owner(lead, ["Group", "User"])
    objs["Lead"] = lead

    return objs


def _activity_fields(obj: SObject) -> None:
    obj.add(Field("Subject", "string", length=255, label="Subject"))
    obj.add(Field("Description", "textarea", label="Description"))
    obj.add(_picklist("Type", ACTIVITY_TYPES, label="Type"))
    obj.add(_ref("WhoId", ["Contact", "Lead"], "Who", None, label="Name ID"))
    obj.fields["WhoId"].delete_constraint = "cascade"
    obj.add(_ref("WhatId", ["Account", "Opportunity", "Case"], "What", None, label="Related To ID"))
    obj.fields["WhatId"].delete_constraint = "cascade"
    obj.add(
        _ref(
            "AccountId",
            ["Account"],
            "Account",
            None,
            label="Account ID",
            createable=False,
            updateable=False,
        )
    )
    _owner(obj, ["User"])
    obj.fields["OwnerId"].label = "Assigned To ID"


CHILD_RELATIONSHIP_NAMES = {
    # (child object, field) → relationship name on the parent for polymorphic activity lookups
    ("Task", "WhatId"): "Tasks",
    ("Task", "WhoId"): "Tasks",
    ("Event", "WhatId"): "Events",
    ("Event", "WhoId"): "Events",
}


class Metadata:
    """All objects of the org, by name and by key prefix."""

    def __init__(self, objects: dict[str, SObject]) -> None:
        self.objects = objects
        self._by_lower = {name.lower(): name for name in objects}
        self._by_prefix = {o.key_prefix: name for name, o in objects.items()}

    def get(self, name: str) -> SObject | None:
        canonical = self._by_lower.get(name.lower())
        return self.objects[canonical] if canonical else None

    def by_prefix(self, prefix: str) -> SObject | None:
        name = self._by_prefix.get(prefix)
        return self.objects[name] if name else None

    def children_of(self, parent: str) -> list[tuple[SObject, Field, str | None]]:
        """Every (child object, lookup field, relationship name) whose lookup points at parent."""
        out = []
        for obj in self.objects.values():
            for f in obj.fields.values():
                if (
                    f.type == "reference"
                    and parent in f.reference_to
                    and f.name
                    not in (
                        "CreatedById",
                        "LastModifiedById",
                    )
                ):
                    rel = f.child_relationship or CHILD_RELATIONSHIP_NAMES.get((obj.name, f.name))
                    out.append((obj, f, rel))
        return out

    def describe(self, name: str, version: str) -> dict[str, Any]:
        obj = self.objects[name]
        info = obj.global_describe(version)
        info.update(
            {
                "actionOverrides": [],
                "childRelationships": [
                    {
                        "cascadeDelete": f.delete_constraint == "cascade",
                        "childSObject": child.name,
                        "deprecatedAndHidden": False,
                        "field": f.name,
                        "junctionIdListNames": [],
                        "junctionReferenceTo": [],
                        "relationshipName": rel,
                        "restrictedDelete": f.delete_constraint == "restrict",
                    }
                    for child, f, rel in self.children_of(name)
                ],
                "compactLayoutable": True,
                "fields": [f.describe() for f in obj.fields.values()],
                "listviewable": None,
                "lookupLayoutable": None,
                "namedLayoutInfos": [],
                "networkScopeFieldName": None,
                "recordTypeInfos": [
                    {
                        "active": True,
                        "available": True,
                        "defaultRecordTypeMapping": True,
                        "developerName": "Master",
                        "master": True,
                        "name": "Master",
                        "recordTypeId": "012000000000000AAA",
                        "urls": {
                            "layout": f"/services/data/v{version}/sobjects/{name}/describe/"
                            "layouts/012000000000000AAA"
                        },
                    }
                ],
                "searchLayoutable": True,
                "supportedScopes": [
                    {"label": "All " + obj.label_plural.lower(), "name": "everything"}
                ],
                "sobjectDescribeOption": "FULL",
            }
        )
        return info
