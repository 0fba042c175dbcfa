package management

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The activity log: every management write, allowed or refused, with who, what, on
// which resource, the outcome and when, listed in the shape of Azure Monitor's
// "Activity Logs - List" (Microsoft.Insights/eventtypes/management/values, EventData),
// so that unauthorized changes can be spotted as in Azure.

// record appends the outcome of a write call to the activity log. A failure to record is
// logged, not returned: the write itself already happened (or was refused).
func (s *Service) record(r *http.Request, c *call, err error) {
	status := http.StatusOK
	e := &meta.Event{ID: guid.New(), Time: c.now, TenantID: c.caller.TenantID, Subscription: c.p.sub,
		ResourceGroup: c.p.group, ResourceID: c.resourceID, Operation: c.route.operation,
		Caller: c.caller.ObjectID, CallerAppID: c.caller.AppID, Status: "Succeeded", Method: r.Method,
		CorrelationID: correlationID(r), ClientIP: clientIP(r)}
	if c.p.scope.Group != "" {
		e.ResourceGroup = c.p.scope.Group
	}
	if e.ResourceID == "" {
		e.ResourceID = "/" + strings.Join(splitPath(r.URL.Path), "/")
	}
	if err != nil {
		ae := armError(err)
		status, e.Status, e.SubStatus = ae.Status, "Failed", ae.Code
	}
	e.HTTPStatus = status
	if rerr := s.store.RecordEvent(context.WithoutCancel(r.Context()), e); rerr != nil {
		s.log.ErrorContext(r.Context(), "activity log: record failed", "err", rerr, "operation", e.Operation)
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// eventJSON is Azure Monitor's EventData.
type eventJSON struct {
	Authorization        map[string]string `json:"authorization"`
	Caller               string            `json:"caller"`
	Channels             string            `json:"channels"`
	Claims               map[string]string `json:"claims"`
	CorrelationID        string            `json:"correlationId"`
	Description          string            `json:"description"`
	EventDataID          string            `json:"eventDataId"`
	EventName            localized         `json:"eventName"`
	Category             localized         `json:"category"`
	HTTPRequest          map[string]string `json:"httpRequest"`
	ID                   string            `json:"id"`
	Level                string            `json:"level"`
	ResourceGroupName    string            `json:"resourceGroupName"`
	ResourceProviderName localized         `json:"resourceProviderName"`
	ResourceID           string            `json:"resourceId"`
	ResourceType         localized         `json:"resourceType"`
	OperationID          string            `json:"operationId"`
	OperationName        localized         `json:"operationName"`
	Properties           map[string]string `json:"properties"`
	Status               localized         `json:"status"`
	SubStatus            localized         `json:"subStatus"`
	EventTimestamp       string            `json:"eventTimestamp"`
	SubmissionTimestamp  string            `json:"submissionTimestamp"`
	SubscriptionID       string            `json:"subscriptionId"`
	TenantID             string            `json:"tenantId"`
}

type localized struct {
	Value          string `json:"value"`
	LocalizedValue string `json:"localizedValue"`
}

func loc(v string) localized { return localized{Value: v, LocalizedValue: v} }

func toEventJSON(e *meta.Event) eventJSON {
	ts := e.Time.UTC().Format(time.RFC3339Nano)
	statusText := http.StatusText(e.HTTPStatus)
	sub := localized{Value: strings.ReplaceAll(statusText, " ", ""),
		LocalizedValue: fmt.Sprintf("%s (HTTP Status Code: %d)", statusText, e.HTTPStatus)}
	j := eventJSON{
		Authorization: map[string]string{"action": e.Operation, "scope": e.ResourceID},
		Caller:        e.Caller, Channels: "Operation",
		Claims:        map[string]string{"http://schemas.microsoft.com/identity/claims/objectidentifier": e.Caller, "appid": e.CallerAppID},
		CorrelationID: e.CorrelationID, EventDataID: e.ID,
		EventName: loc("EndRequest"), Category: loc("Administrative"),
		HTTPRequest: map[string]string{"clientIpAddress": e.ClientIP, "method": e.Method},
		ID:          e.ResourceID + "/events/" + e.ID + "/ticks/" + strconv.FormatInt(e.Time.UnixNano()/100+621355968000000000, 10),
		Level:       "Informational", ResourceGroupName: e.ResourceGroup,
		ResourceProviderName: loc(providerOf(e.ResourceID)), ResourceID: e.ResourceID,
		ResourceType: loc(resourceTypeOf(e.ResourceID)), OperationID: e.CorrelationID, OperationName: loc(e.Operation),
		Properties: map[string]string{"statusCode": sub.Value},
		Status:     loc(e.Status), SubStatus: sub,
		EventTimestamp: ts, SubmissionTimestamp: ts, SubscriptionID: e.Subscription, TenantID: e.TenantID,
	}
	if e.SubStatus != "" {
		j.Level = "Error"
		j.Properties["statusMessage"] = e.SubStatus
	}
	return j
}

// resourceTypeOf derives a resource id's type: the provider namespace and the type
// segments after its last "providers", or the Microsoft.Resources type of a
// subscription or resource group.
func resourceTypeOf(id string) string {
	segs := splitPath(id)
	for i := len(segs) - 1; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") && i+1 < len(segs) {
			parts := []string{segs[i+1]}
			for j := i + 2; j < len(segs); j += 2 {
				parts = append(parts, segs[j])
			}
			return strings.Join(parts, "/")
		}
	}
	if len(segs) >= 4 {
		return typeResourceGroups
	}
	return "Microsoft.Resources/subscriptions"
}

func providerOf(id string) string {
	t, _, _ := strings.Cut(resourceTypeOf(id), "/")
	return t
}

// maxEvents bounds one listing: the newest first.
const maxEvents = 1000

// listEvents answers Activity Logs - List. $filter takes eventTimestamp ge/le,
// resourceGroupName eq, resourceUri eq and correlationId eq clauses; other clauses
// (resourceProvider, eventChannels, status) are accepted and ignored.
func (s *Service) listEvents(ctx context.Context, c *call) (*reply, error) {
	q := meta.EventQuery{Subscription: c.p.sub, Limit: maxEvents}
	for _, clause := range filterClauses(c.query.Get("$filter")) {
		field, rest, _ := strings.Cut(clause, " ")
		op, value, _ := strings.Cut(strings.TrimSpace(rest), " ")
		value = unquote(value)
		switch f, o := strings.ToLower(field), strings.ToLower(op); {
		case f == "eventtimestamp" && (o == "ge" || o == "le"):
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return nil, badRequest("InvalidFilterInQueryString", fmt.Sprintf("The time '%s' is not an RFC 3339 time.", value))
			}
			if o == "ge" {
				q.From = t
			} else {
				q.To = t
			}
		case f == "resourcegroupname" && o == "eq":
			q.ResourceGroup = value
		case f == "resourceuri" && o == "eq", f == "resourceid" && o == "eq":
			q.ResourceID = value
		case f == "correlationid" && o == "eq":
			q.CorrelationID = value
		case (f == "resourceprovider" || f == "eventchannels" || f == "status" || f == "substatus") && o == "eq":
		default:
			return nil, badFilter(clause)
		}
	}
	events, err := s.store.Events(ctx, q)
	if err != nil {
		return nil, err
	}
	out := []eventJSON{}
	for i := range events {
		out = append(out, toEventJSON(&events[i]))
	}
	return ok(list(out))
}
