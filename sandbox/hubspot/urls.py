"""HubSpot sandbox URLs: HubSpot's own paths under /sandbox/hubspot/."""

from django.urls import path

from sandbox.hubspot import views_meta, views_oauth, views_objects, views_record, views_search

urlpatterns = [
    # OAuth (app.hubspot.com/oauth/authorize and api.hubapi.com/oauth/v1/... in the real thing)
    path("oauth/authorize", views_oauth.authorize, name="sandbox_hubspot_authorize"),
    path("oauth/v1/token", views_oauth.token),
    path("oauth/v1/access-tokens/<str:token_value>", views_oauth.access_token_info),
    path("account-info/v3/details", views_record.account_details),
    # The app's record page (app.hubspot.com/contacts/<hub id>/record/<type id>/<id> in the real thing)
    path("contacts/<int:hub_id>/record/<str:type_id>/<str:object_id>", views_record.record,
         name="sandbox_hubspot_record"),
    # CRM objects v3
    path("crm/v3/objects/<str:object_type>", views_objects.collection),
    path("crm/v3/objects/<str:object_type>/search", views_search.search),
    path("crm/v3/objects/<str:object_type>/merge", views_objects.merge),
    path("crm/v3/objects/<str:object_type>/batch/<str:action>", views_objects.batch),
    path("crm/v3/objects/<str:object_type>/<str:object_id>", views_objects.item),
    path("crm/v3/objects/<str:object_type>/<str:object_id>/associations/<str:to_type>/<str:to_id>/"
         "<str:association_type>", views_meta.v3_record_association),
    # Properties and pipelines
    path("crm/v3/properties/<str:object_type>", views_meta.properties),
    path("crm/v3/properties/<str:object_type>/<str:name>", views_meta.property_detail),
    path("crm/v3/pipelines/<str:object_type>", views_meta.pipelines),
    path("crm/v3/pipelines/<str:object_type>/<str:pipeline_id>", views_meta.pipeline_detail),
    # Associations v4
    path("crm/v4/objects/<str:object_type>/<str:object_id>/associations/default/<str:to_type>/<str:to_id>",
         views_meta.record_associations, {"default": True}),
    path("crm/v4/objects/<str:object_type>/<str:object_id>/associations/<str:to_type>",
         views_meta.record_associations),
    path("crm/v4/objects/<str:object_type>/<str:object_id>/associations/<str:to_type>/<str:to_id>",
         views_meta.record_associations),
    path("crm/v4/associations/<str:from_type>/<str:to_type>/batch/<str:action>", views_meta.batch_associations),
    path("crm/v4/associations/<str:from_type>/<str:to_type>/labels", views_meta.association_labels),
    path("crm/v4/associations/<str:from_type>/<str:to_type>/batch/associate/default",
         views_meta.batch_associations, {"action": "associate"}),
]
