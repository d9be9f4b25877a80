// Generated from the server's OpenAPI document by scripts/types.mjs: do not edit.
export interface paths {
    "/api/v1/activate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Exchange an activation code and a machine fingerprint for a licence bound to that machine and the package's download (again on the same machine: a renewal) */
        post: operations["post_api_v1_activate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/alert-preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** What an expression gives now in this scope: what a rule would fire (its for aside) */
        post: operations["post_api_v1_alerting_alert_preview"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/alert-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The built-in alert rules as the platform's settings make them */
        get: operations["get_api_v1_alerting_alert_rules"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/alert-rules/{rule}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Turn a rule on or off or change its severity here (reset: back to the next scope's setting) */
        patch: operations["patch_api_v1_alerting_alert_rules_rule_"];
        trace?: never;
    };
    "/api/v1/alerting/alertmanager": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** An Alertmanager webhook receiver (payload version 4): its alerts are routed and delivered as /api/v2/alerts's */
        post: operations["post_api_v1_alerting_alertmanager"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Alerts of custom rules now: pending (not yet held for their for) or firing */
        get: operations["get_api_v1_alerting_alerts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/custom-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Custom rules (PromQL subset) of this scope */
        get: operations["get_api_v1_alerting_custom_rules"];
        put?: never;
        /** Add a custom rule: an expression, how long it must hold (for), severity, labels and annotations */
        post: operations["post_api_v1_alerting_custom_rules"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/custom-rules/{custom}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One custom rule */
        get: operations["get_api_v1_alerting_custom_rules_custom_"];
        put?: never;
        post?: never;
        /** Remove a custom rule (its alerts end without a resolved message) */
        delete: operations["delete_api_v1_alerting_custom_rules_custom_"];
        options?: never;
        head?: never;
        /** Change a custom rule (its pending alerts start over) */
        patch: operations["patch_api_v1_alerting_custom_rules_custom_"];
        trace?: never;
    };
    "/api/v1/alerting/inhibitions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Inhibition rules: while a source alert fires, targets sharing its `equal` labels are held back */
        get: operations["get_api_v1_alerting_inhibitions"];
        put?: never;
        /** Add an inhibition rule (source, target, equal, why) */
        post: operations["post_api_v1_alerting_inhibitions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/inhibitions/{inhibition}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove an inhibition rule */
        delete: operations["delete_api_v1_alerting_inhibitions_inhibition_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Delivery history of the platform's receivers, newest first: state, attempts and the last answer */
        get: operations["get_api_v1_alerting_notifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/prometheus-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This scope's rules as a Prometheus rule file (YAML; promtool check rules passes): custom rules scoped as here, built-in ones over jizhan_alert_events_total */
        get: operations["get_api_v1_alerting_prometheus_rules"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/receivers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The receivers of the platform's notifications, by name */
        get: operations["get_api_v1_alerting_receivers"];
        put?: never;
        /** Add a receiver: a channel (webhook, slack, dingtalk, wecom, feishu, email) and what it takes */
        post: operations["post_api_v1_alerting_receivers"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/receivers/{receiver}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One receiver (its secret is never shown) */
        get: operations["get_api_v1_alerting_receivers_receiver_"];
        put?: never;
        post?: never;
        /** Remove a receiver (what it still had to send is cancelled) */
        delete: operations["delete_api_v1_alerting_receivers_receiver_"];
        options?: never;
        head?: never;
        /** Change a receiver's configuration, secret, filters or rate */
        patch: operations["patch_api_v1_alerting_receivers_receiver_"];
        trace?: never;
    };
    "/api/v1/alerting/receivers/{receiver}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a test message now and answer what the receiver said */
        post: operations["post_api_v1_alerting_receivers_receiver_test"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/silences": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Silences that have not ended (and those ended in the last day) */
        get: operations["get_api_v1_alerting_silences"];
        put?: never;
        /** Silence alerts whose labels match, for a while (with why) */
        post: operations["post_api_v1_alerting_silences"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerting/silences/{silence}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** End a silence now */
        delete: operations["delete_api_v1_alerting_silences_silence_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Query the audit trail (platform admins), oldest first */
        get: operations["get_api_v1_audit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/audit/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Verify the audit trail's hash chain, archives included (platform admins) */
        get: operations["get_api_v1_audit_verify"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Log in with a password; returns a session token */
        post: operations["post_api_v1_auth_login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** End the caller's session */
        post: operations["post_api_v1_auth_logout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/whoami": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller and its token */
        get: operations["get_api_v1_auth_whoami"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/autotest/verdict-key": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The public key competition verdicts are signed with (save it as a .pub file) */
        get: operations["get_api_v1_autotest_verdict_key"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/clusters": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This machine and the Kubernetes clusters jobs run on: state, nodes, GPUs (never credentials) */
        get: operations["get_api_v1_clusters"];
        put?: never;
        /** Register a Kubernetes cluster (connects first: an unreachable one is refused unless force) */
        post: operations["post_api_v1_clusters"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/clusters/{cluster}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A cluster */
        get: operations["get_api_v1_clusters_cluster_"];
        put?: never;
        post?: never;
        /** Remove a cluster (refused while jobs of the platform run there) */
        delete: operations["delete_api_v1_clusters_cluster_"];
        options?: never;
        head?: never;
        /** Change a cluster's credentials or settings, or disable it */
        patch: operations["patch_api_v1_clusters_cluster_"];
        trace?: never;
    };
    "/api/v1/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's own jobs across projects, newest first */
        get: operations["get_api_v1_jobs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/inbox": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Your notifications: the alerts of the rules you follow about your own jobs, newest first */
        get: operations["get_api_v1_me_inbox"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/inbox/read": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mark your notifications read: these ids, or all */
        post: operations["post_api_v1_me_inbox_read"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/inbox/unread": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** How many of your notifications are not read (the console's bell) */
        get: operations["get_api_v1_me_inbox_unread"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Delivery history of your own receivers, newest first: state, attempts and the last answer */
        get: operations["get_api_v1_me_notifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/receivers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The receivers of your own notifications, by name */
        get: operations["get_api_v1_me_receivers"];
        put?: never;
        /** Add a receiver: a channel (webhook, slack, dingtalk, wecom, feishu, email) and what it takes */
        post: operations["post_api_v1_me_receivers"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/receivers/{receiver}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One receiver (its secret is never shown) */
        get: operations["get_api_v1_me_receivers_receiver_"];
        put?: never;
        post?: never;
        /** Remove a receiver (what it still had to send is cancelled) */
        delete: operations["delete_api_v1_me_receivers_receiver_"];
        options?: never;
        head?: never;
        /** Change a receiver's configuration, secret, filters or rate */
        patch: operations["patch_api_v1_me_receivers_receiver_"];
        trace?: never;
    };
    "/api/v1/me/receivers/{receiver}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a test message now and answer what the receiver said */
        post: operations["post_api_v1_me_receivers_receiver_test"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/subscriptions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The rules about jobs you follow for your own jobs (each on unless you turned it off) */
        get: operations["get_api_v1_me_subscriptions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/subscriptions/{rule}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Follow a rule for your own jobs, or stop */
        patch: operations["patch_api_v1_me_subscriptions_rule_"];
        trace?: never;
    };
    "/api/v1/monitoring/gpus": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every GPU's series of one metric over a range (the GPU dashboard); points are [unix ms, value] */
        get: operations["get_api_v1_monitoring_gpus"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/nodes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The machines that run jobs and what is in use */
        get: operations["get_api_v1_nodes"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: operations["get_api_v1_openapi_json"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Projects the caller may see, across workspaces */
        get: operations["get_api_v1_projects"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A project */
        get: operations["get_api_v1_projects_project_"];
        put?: never;
        post?: never;
        /** Delete a project */
        delete: operations["delete_api_v1_projects_project_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/alert-preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** What an expression gives now in this scope: what a rule would fire (its for aside) */
        post: operations["post_api_v1_projects_project_alert_preview"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/alert-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The built-in alert rules as the project's settings make them */
        get: operations["get_api_v1_projects_project_alert_rules"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/alert-rules/{rule}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Turn a rule on or off or change its severity here (reset: back to the next scope's setting) */
        patch: operations["patch_api_v1_projects_project_alert_rules_rule_"];
        trace?: never;
    };
    "/api/v1/projects/{project}/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Alerts of custom rules now: pending (not yet held for their for) or firing */
        get: operations["get_api_v1_projects_project_alerts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/algorithms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's uploaded algorithm packages, newest first */
        get: operations["get_api_v1_projects_project_algorithms"];
        put?: never;
        /** Upload an algorithm package (the body is the .jzpkg); it is checked (intact, signed) at once and for conformance in a sandbox after (state checking, then ready or failed) */
        post: operations["post_api_v1_projects_project_algorithms"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/algorithms/{algorithm}/{version}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An uploaded package: publisher, key, hash, the conformance checks */
        get: operations["get_api_v1_projects_project_algorithms_algorithm_version_"];
        put?: never;
        post?: never;
        /** Delete an uploaded package (its evaluations stay) */
        delete: operations["delete_api_v1_projects_project_algorithms_algorithm_version_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/code": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's repository: where to clone it, its branches, recent commits */
        get: operations["get_api_v1_projects_project_code"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/codes/{activation_code}/activations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The machines a code activated, with their licences and usage */
        get: operations["get_api_v1_projects_project_codes_activation_code_activations"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/codes/{activation_code}/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Revoke an activation code: no activation or licence renewal from now on */
        post: operations["post_api_v1_projects_project_codes_activation_code_revoke"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/competitions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's competitions */
        get: operations["get_api_v1_projects_project_competitions"];
        put?: never;
        /** Organise a competition (data owners): a public and a hidden suite, times, a daily limit, teams, the results CSV's columns */
        post: operations["post_api_v1_projects_project_competitions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/competitions/{competition}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A competition */
        get: operations["get_api_v1_projects_project_competitions_competition_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Change a competition's times, limits or teams (until it closes) */
        patch: operations["patch_api_v1_projects_project_competitions_competition_"];
        trace?: never;
    };
    "/api/v1/projects/{project}/competitions/{competition}/board": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A split's leaderboard: each team's best, ties to the earlier submission; the hidden split's after the close */
        get: operations["get_api_v1_projects_project_competitions_competition_board"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/competitions/{competition}/submissions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Your team's submissions (the organisers': everyone's); hidden-split scores after the close */
        get: operations["get_api_v1_projects_project_competitions_competition_submissions"];
        put?: never;
        /** Submit your team's results CSV for a split with the package that made it; scored at once */
        post: operations["post_api_v1_projects_project_competitions_competition_submissions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/competitions/{competition}/verdicts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The signed verdicts of the re-runs (jizhan autotest verify-verdict checks one) */
        get: operations["get_api_v1_projects_project_competitions_competition_verdicts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/custom-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Custom rules (PromQL subset) of this scope */
        get: operations["get_api_v1_projects_project_custom_rules"];
        put?: never;
        /** Add a custom rule: an expression, how long it must hold (for), severity, labels and annotations */
        post: operations["post_api_v1_projects_project_custom_rules"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/custom-rules/{custom}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One custom rule */
        get: operations["get_api_v1_projects_project_custom_rules_custom_"];
        put?: never;
        post?: never;
        /** Remove a custom rule (its alerts end without a resolved message) */
        delete: operations["delete_api_v1_projects_project_custom_rules_custom_"];
        options?: never;
        head?: never;
        /** Change a custom rule (its pending alerts start over) */
        patch: operations["patch_api_v1_projects_project_custom_rules_custom_"];
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's datasets (paths shown to data owners) */
        get: operations["get_api_v1_projects_project_datasets"];
        put?: never;
        /** Register a folder on the server as a dataset (data owners) */
        post: operations["post_api_v1_projects_project_datasets"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A dataset */
        get: operations["get_api_v1_projects_project_datasets_dataset_"];
        put?: never;
        post?: never;
        /** Unregister a dataset (a registered folder's files stay; its versions go) */
        delete: operations["delete_api_v1_projects_project_datasets_dataset_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/archive": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Upload a tar or tar.gz archive as a new dataset (data owners); the body is the archive */
        post: operations["post_api_v1_projects_project_datasets_dataset_archive"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/conversions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The dataset's conversions, newest first (at most 100): state and the version each made */
        get: operations["get_api_v1_projects_project_datasets_dataset_conversions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/curation-defaults": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The dataset's curation thresholds, which its curations start from (the built-in ones until someone sets them) */
        get: operations["get_api_v1_projects_project_datasets_dataset_curation_defaults"];
        /** Set the dataset's curation thresholds (absent fields: the built-in ones) */
        put: operations["put_api_v1_projects_project_datasets_dataset_curation_defaults"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/curations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The dataset's curations, newest first (at most 100): state and counts */
        get: operations["get_api_v1_projects_project_datasets_dataset_curations"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/curations/{curation}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One curation: state and counts */
        get: operations["get_api_v1_projects_project_datasets_dataset_curations_curation_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/curations/{curation}/apply": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make the next version without the confirmed removals (data owners who may update the dataset); the curated version stays as it was */
        post: operations["post_api_v1_projects_project_datasets_dataset_curations_curation_apply"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/curations/{curation}/decisions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Confirm or reject proposed removals (data owners who may update the dataset): {"decisions": {PATH: confirmed | rejected | pending}} */
        post: operations["post_api_v1_projects_project_datasets_dataset_curations_curation_decisions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/curations/{curation}/proposals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The review queue (data owners): each proposed removal with its reason, a duplicate's kept image, and the decision; ?decision= filters */
        get: operations["get_api_v1_projects_project_datasets_dataset_curations_curation_proposals"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/files": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A dataset's files (data owners), by path */
        get: operations["get_api_v1_projects_project_datasets_dataset_files"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/files/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Download one file of a dataset (data owners) */
        get: operations["get_api_v1_projects_project_datasets_dataset_files_path_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/label-tasks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make a labelling task over a version (data owners): its classes, shapes and attributes; its images dealt into jobs of job_size to the annotators in turn, each with a reviewer */
        post: operations["post_api_v1_projects_project_datasets_dataset_label_tasks"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/lifecycle": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The dataset's lifecycle rules, in the order they are read, and what the last run did */
        get: operations["get_api_v1_projects_project_datasets_dataset_lifecycle"];
        /** Replace the dataset's lifecycle rules (those who manage the dataset; rules that delete need the right to delete it). For each file of the newest version and each older version the first rule that matches decides */
        put: operations["put_api_v1_projects_project_datasets_dataset_lifecycle"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/lifecycle/apply": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Apply the rules now: files left out of a new version, versions archived or deleted, each change in the audit trail (deleting versions needs the right to delete the dataset) */
        post: operations["post_api_v1_projects_project_datasets_dataset_lifecycle_apply"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/lifecycle/plan": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The dry run: what applying the rules now would do (the files' paths for data owners only) */
        get: operations["get_api_v1_projects_project_datasets_dataset_lifecycle_plan"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/upload": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's unfinished upload of this dataset, with its offset (how a client resumes) */
        get: operations["get_api_v1_projects_project_datasets_dataset_upload"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The dataset's versions, newest first: files, bytes, splits, tags and what changed (no paths) */
        get: operations["get_api_v1_projects_project_datasets_dataset_versions"];
        put?: never;
        /** Make a version of the dataset's folder as it is now: each file stored once (a version costs the files it adds); a file unchanged since the last version keeps its split and tags, new files get them from the request */
        post: operations["post_api_v1_projects_project_datasets_dataset_versions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One version (0: the newest) */
        get: operations["get_api_v1_projects_project_datasets_dataset_versions_number_"];
        put?: never;
        post?: never;
        /** Delete a version; the files no other version holds go with it (not while an open labelling task labels it) */
        delete: operations["delete_api_v1_projects_project_datasets_dataset_versions_number_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}/archive": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Archive a version (not the newest): its files move to the archive store, no job can mount it until it is restored */
        post: operations["post_api_v1_projects_project_datasets_dataset_versions_number_archive"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}/changes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make a new version from this one by changes (data owners who may also update the dataset): files left out, splits and tags changed */
        post: operations["post_api_v1_projects_project_datasets_dataset_versions_number_changes"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}/conversions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Convert the version's annotations to another format (data owners who may update the dataset): a job of the project, in its sandbox; the next version holds the converted files beside the old */
        post: operations["post_api_v1_projects_project_datasets_dataset_versions_number_conversions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}/curations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Find near-duplicates and poor images in a version (data owners who may update the dataset): a job of the project, in its sandbox; its proposals wait for a person's review. Thresholds not given are the dataset's */
        post: operations["post_api_v1_projects_project_datasets_dataset_versions_number_curations"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}/files": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A version's files by path (data owners), filtered by split, tag, prefix, quality (?quality=poor|fine: what the checks measured) or duplicate group (?duplicates=true: in a group the newest check of this version found); each with its measures and group */
        get: operations["get_api_v1_projects_project_datasets_dataset_versions_number_files"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}/files/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Download one file of a version (data owners); images come as images */
        get: operations["get_api_v1_projects_project_datasets_dataset_versions_number_files_path_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}/restore": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Restore an archived version: its files come back from the archive store (each checked against its SHA-256) within the project's storage quota */
        post: operations["post_api_v1_projects_project_datasets_dataset_versions_number_restore"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/evaluations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's evaluations, newest first */
        get: operations["get_api_v1_projects_project_evaluations"];
        put?: never;
        /** Evaluate an uploaded algorithm on a suite: an eval job, then the report */
        post: operations["post_api_v1_projects_project_evaluations"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/evaluations/{evaluation}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An evaluation: state, metrics, performance, errors, thresholds (redacted for internal and secret suites unless you hold suite:samples) */
        get: operations["get_api_v1_projects_project_evaluations_evaluation_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/evaluations/{evaluation}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel an evaluation that has not ended (its job is cancelled) */
        post: operations["post_api_v1_projects_project_evaluations_evaluation_cancel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/evaluations/{evaluation}/files/{file}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The full report's files (data owners): report.json, report.html, samples.csv */
        get: operations["get_api_v1_projects_project_evaluations_evaluation_files_file_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/evaluations/{evaluation}/report": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The report as one HTML page (redacted as the evaluation is) */
        get: operations["get_api_v1_projects_project_evaluations_evaluation_report"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's events, oldest first, or a Server-Sent Events stream (stream=true or Accept: text/event-stream; Last-Event-ID resumes) */
        get: operations["get_api_v1_projects_project_events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/inhibitions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Inhibition rules: while a source alert fires, targets sharing its `equal` labels are held back */
        get: operations["get_api_v1_projects_project_inhibitions"];
        put?: never;
        /** Add an inhibition rule (source, target, equal, why) */
        post: operations["post_api_v1_projects_project_inhibitions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/inhibitions/{inhibition}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove an inhibition rule */
        delete: operations["delete_api_v1_projects_project_inhibitions_inhibition_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/job-settings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's job settings (ETag: their version) */
        get: operations["get_api_v1_projects_project_job_settings"];
        /** Change job settings (allow_egress: platform admins only; If-Match: the ETag read) */
        put: operations["put_api_v1_projects_project_job_settings"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's jobs, newest first */
        get: operations["get_api_v1_projects_project_jobs"];
        put?: never;
        /** Submit a job (docs/JOBS.md) */
        post: operations["post_api_v1_projects_project_jobs"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A job */
        get: operations["get_api_v1_projects_project_jobs_id_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel a job: SIGTERM to its processes, SIGKILL after the grace period */
        post: operations["post_api_v1_projects_project_jobs_id_cancel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A job's changes of state, oldest first */
        get: operations["get_api_v1_projects_project_jobs_id_events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A job's log as its log policy let it through (text/plain; format=json for records; follow=true or Accept: text/event-stream for live follow) */
        get: operations["get_api_v1_projects_project_jobs_id_logs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/logs/download": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The whole log as a file */
        get: operations["get_api_v1_projects_project_jobs_id_logs_download"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/logs/raw": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The unfiltered log, when the policy keeps it (data owners) */
        get: operations["get_api_v1_projects_project_jobs_id_logs_raw"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/logs/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lines passed and withheld, by reason (counts, never content) */
        get: operations["get_api_v1_projects_project_jobs_id_logs_stats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/outputs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What the job left in /output: state (open, held, released, expired), count, size, whether you may download, the latest release request */
        get: operations["get_api_v1_projects_project_jobs_id_outputs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/outputs/files": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The job's output files by path: size, and SHA-256 where you may download */
        get: operations["get_api_v1_projects_project_jobs_id_outputs_files"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/outputs/files/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Download one output file (held outputs: the project's data owners only) */
        get: operations["get_api_v1_projects_project_jobs_id_outputs_files_path_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/outputs/release": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Ask the project's data owners to release the job's held outputs */
        post: operations["post_api_v1_projects_project_jobs_id_outputs_release"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/resources": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A job's resources over a range: its GPUs' utilisation and memory (per GPU), CPU cores and memory; points are [unix ms, value] */
        get: operations["get_api_v1_projects_project_jobs_id_resources"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/jobs/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Queue an ended job again (next attempt; a dev environment keeps its folder) */
        post: operations["post_api_v1_projects_project_jobs_id_retry"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's labelling tasks, newest first (at most 200): progress by job state */
        get: operations["get_api_v1_projects_project_label_tasks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One labelling task: its spec and progress */
        get: operations["get_api_v1_projects_project_label_tasks_task_"];
        put?: never;
        post?: never;
        /** Delete a labelling task with its jobs and shapes (an exported version stays) */
        delete: operations["delete_api_v1_projects_project_label_tasks_task_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}/export": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Export the shapes as the next version of the dataset (data owners who may update it; once every job is accepted): COCO (labels/TASK/coco.json) or one image JSON per image */
        post: operations["post_api_v1_projects_project_label_tasks_task_export"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A task's jobs: who annotates and reviews each, its state and counts */
        get: operations["get_api_v1_projects_project_label_tasks_task_jobs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}/jobs/{label_job}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A job with its images and their shapes (its annotator, its reviewer, data owners) */
        get: operations["get_api_v1_projects_project_label_tasks_task_jobs_label_job_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Give a job to another annotator or reviewer (data owners) */
        patch: operations["patch_api_v1_projects_project_label_tasks_task_jobs_label_job_"];
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}/jobs/{label_job}/images/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One image of a job (its annotator, its reviewer, data owners) */
        get: operations["get_api_v1_projects_project_label_tasks_task_jobs_label_job_images_path_"];
        /** Save one image's shapes (the job's annotator while annotating, its reviewer while in review); width and height as the tool read the image */
        put: operations["put_api_v1_projects_project_label_tasks_task_jobs_label_job_images_path_"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}/jobs/{label_job}/review": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Accept the job or send it back with a note (its reviewer) */
        post: operations["post_api_v1_projects_project_label_tasks_task_jobs_label_job_review"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}/jobs/{label_job}/submit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Hand the job to its reviewer (its annotator; every image opened) */
        post: operations["post_api_v1_projects_project_label_tasks_task_jobs_label_job_submit"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}/pre-annotations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The task's pre-annotations, newest first (at most 100): state and counts */
        get: operations["get_api_v1_projects_project_label_tasks_task_pre_annotations"];
        put?: never;
        /** Pre-annotate the task with an uploaded algorithm that passed its checks (data owners): a job of the project over the task's version; its boxes become the first shapes of the images no person has saved yet */
        post: operations["post_api_v1_projects_project_label_tasks_task_pre_annotations"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-tasks/{task}/statistics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Per annotator: jobs, images, shapes, accepted, reworks, work time, images an hour, and agreement with the reviewers */
        get: operations["get_api_v1_projects_project_label_tasks_task_statistics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/label-work": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's labelling jobs waiting for them: to annotate, to rework, to review */
        get: operations["get_api_v1_projects_project_label_work"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/listings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's store listings, whatever their visibility */
        get: operations["get_api_v1_projects_project_listings"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/listings/{algorithm}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A listing with its versions and their reports */
        get: operations["get_api_v1_projects_project_listings_algorithm_"];
        /** Create or change the listing of one of the project's algorithms */
        put: operations["put_api_v1_projects_project_listings_algorithm_"];
        post?: never;
        /** Remove a listing (refused once it has orders) */
        delete: operations["delete_api_v1_projects_project_listings_algorithm_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/listings/{algorithm}/versions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** List a version: an uploaded package that passed its checks, signed by the publisher key, with the evaluations it passed */
        post: operations["post_api_v1_projects_project_listings_algorithm_versions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/log-policies": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The log policy of each security level */
        get: operations["get_api_v1_projects_project_log_policies"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/log-policies/{level}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The log policy of one level (ETag: its version) */
        get: operations["get_api_v1_projects_project_log_policies_level_"];
        /** Replace a level's log policy (data owners; docs/LOGS.md; If-Match: the ETag read) */
        put: operations["put_api_v1_projects_project_log_policies_level_"];
        post?: never;
        /** Back to the built-in policy of the level (data owners) */
        delete: operations["delete_api_v1_projects_project_log_policies_level_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/logs/search": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Search the logs of the project's jobs (latest run of each, newest jobs first) */
        get: operations["get_api_v1_projects_project_logs_search"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/members": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Members and their roles */
        get: operations["get_api_v1_projects_project_members"];
        put?: never;
        /** Add a member or change a member's role */
        post: operations["post_api_v1_projects_project_members"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/members/{username}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove a member */
        delete: operations["delete_api_v1_projects_project_members_username_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Delivery history of the project's receivers, newest first: state, attempts and the last answer */
        get: operations["get_api_v1_projects_project_notifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/orders": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's orders with their codes (?listing=NAME narrows them) */
        get: operations["get_api_v1_projects_project_orders"];
        put?: never;
        /** Sell a tier: activation codes for `seats` machines (a code per seat, or one code for all: codes_per=order) */
        post: operations["post_api_v1_projects_project_orders"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/orders/{order}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An order with its codes, their seats used and states */
        get: operations["get_api_v1_projects_project_orders_order_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/permissions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What the caller may do in the project (for clients to offer only that) */
        get: operations["get_api_v1_projects_project_permissions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/prometheus-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This scope's rules as a Prometheus rule file (YAML; promtool check rules passes): custom rules scoped as here, built-in ones over jizhan_alert_events_total */
        get: operations["get_api_v1_projects_project_prometheus_rules"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/quota": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's quota (ETag: its version; usage: what the project uses) */
        get: operations["get_api_v1_projects_project_quota"];
        /** Replace the project's quota (If-Match: the ETag read, to refuse a lost update) */
        put: operations["put_api_v1_projects_project_quota"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/receivers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The receivers of the project's notifications, by name */
        get: operations["get_api_v1_projects_project_receivers"];
        put?: never;
        /** Add a receiver: a channel (webhook, slack, dingtalk, wecom, feishu, email) and what it takes */
        post: operations["post_api_v1_projects_project_receivers"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/receivers/{receiver}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One receiver (its secret is never shown) */
        get: operations["get_api_v1_projects_project_receivers_receiver_"];
        put?: never;
        post?: never;
        /** Remove a receiver (what it still had to send is cancelled) */
        delete: operations["delete_api_v1_projects_project_receivers_receiver_"];
        options?: never;
        head?: never;
        /** Change a receiver's configuration, secret, filters or rate */
        patch: operations["patch_api_v1_projects_project_receivers_receiver_"];
        trace?: never;
    };
    "/api/v1/projects/{project}/receivers/{receiver}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a test message now and answer what the receiver said */
        post: operations["post_api_v1_projects_project_receivers_receiver_test"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/releases": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Release requests of the project's held outputs, oldest first (the data owners' review queue: state=pending) */
        get: operations["get_api_v1_projects_project_releases"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/releases/{release}/approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Approve a release request: the outputs may be downloaded */
        post: operations["post_api_v1_projects_project_releases_release_approve"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/releases/{release}/refuse": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Refuse a release request: the outputs stay held */
        post: operations["post_api_v1_projects_project_releases_release_refuse"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/resources": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A project's measured GPU use over a range, its jobs' series summed by user (or by job): GPU utilisation (percent of one GPU) and GPU memory; points are [unix ms, value] */
        get: operations["get_api_v1_projects_project_resources"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's training runs, newest first */
        get: operations["get_api_v1_projects_project_runs"];
        put?: never;
        /** Start a training run of your own (to log to from outside a job) */
        post: operations["post_api_v1_projects_project_runs"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/runs/{run}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A training run: configuration, progress, last values, tags and notes */
        get: operations["get_api_v1_projects_project_runs_run_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/runs/{run}/records": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Log to your run: metrics, configuration, notes, progress, its end ({"records": [...]} or one record per line as application/x-ndjson) */
        post: operations["post_api_v1_projects_project_runs_run_records"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/runs/{run}/series": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One tag's curve of a run: a range on an axis, at most so many points */
        get: operations["get_api_v1_projects_project_runs_run_series"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/runs/{run}/tensorboard": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The run as a TensorBoard event file (every point a scalar; at most 1,000,000 points): `jizhan metrics export-tb` writes it into a log folder */
        get: operations["get_api_v1_projects_project_runs_run_tensorboard"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/series": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One tag's curves of several runs at once (to compare them) */
        get: operations["get_api_v1_projects_project_series"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/silences": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Silences that have not ended (and those ended in the last day) */
        get: operations["get_api_v1_projects_project_silences"];
        put?: never;
        /** Silence alerts whose labels match, for a while (with why) */
        post: operations["post_api_v1_projects_project_silences"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/silences/{silence}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** End a silence now */
        delete: operations["delete_api_v1_projects_project_silences_silence_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/store/offline-activations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Answer a customer's offline activation request (the file `jizhan client activate --offline` wrote) with a licence */
        post: operations["post_api_v1_projects_project_store_offline_activations"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/store/publisher": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's publisher key (public half): its packages and licences carry it */
        get: operations["get_api_v1_projects_project_store_publisher"];
        /** Set the publisher key that signs the project's licences (a signing key file's JSON; none: a new key, shown once) */
        put: operations["put_api_v1_projects_project_store_publisher"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/suites": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The project's test suites, by name */
        get: operations["get_api_v1_projects_project_suites"];
        put?: never;
        /** Make a test suite (data owners): samples, annotations the algorithms never see, a template, thresholds */
        post: operations["post_api_v1_projects_project_suites"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/suites/{suite}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A suite: its latest version (or ?version=N) with template and thresholds */
        get: operations["get_api_v1_projects_project_suites_suite_"];
        put?: never;
        post?: never;
        /** Delete a suite, every version and its annotations (its evaluations stay) */
        delete: operations["delete_api_v1_projects_project_suites_suite_"];
        options?: never;
        head?: never;
        /** Change a suite: a new version (what the body leaves out is kept, the annotations too) */
        patch: operations["patch_api_v1_projects_project_suites_suite_"];
        trace?: never;
    };
    "/api/v1/projects/{project}/suites/{suite}/versions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A suite's versions, newest first */
        get: operations["get_api_v1_projects_project_suites_suite_versions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Start a resumable upload of a tar or tar.gz archive that becomes a dataset (data owners; 200 with your unfinished upload of the same dataset, size and level); send it with PATCH in chunks */
        post: operations["post_api_v1_projects_project_uploads"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{project}/uploads/{upload}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An upload and its offset (its uploader) */
        get: operations["get_api_v1_projects_project_uploads_upload_"];
        put?: never;
        post?: never;
        /** Give up an unfinished upload; its bytes go */
        delete: operations["delete_api_v1_projects_project_uploads_upload_"];
        options?: never;
        head?: never;
        /** Send a chunk of an upload at Upload-Offset (header), with an optional 'Upload-Checksum: sha256 HEX'; the last one makes the dataset */
        patch: operations["patch_api_v1_projects_project_uploads_upload_"];
        trace?: never;
    };
    "/api/v1/roles": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Roles and their permissions */
        get: operations["get_api_v1_roles"];
        put?: never;
        /** Create a custom role (platform admins; workspace admins, of permissions they hold in their workspace) */
        post: operations["post_api_v1_roles"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/roles/{role}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete a custom role nobody holds (platform admins; the admins of the workspace it was made in) */
        delete: operations["delete_api_v1_roles_role_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scheduler": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The scheduler's view: nodes and GPUs with the jobs holding them, the queue in order with reasons, GPU use per project (other tenants' jobs: amounts only) */
        get: operations["get_api_v1_scheduler"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scheduler/cluster": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The current cluster and project quotas as the simulator's cluster YAML */
        get: operations["get_api_v1_scheduler_cluster"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scheduler/simulate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** What if: run the scheduling simulator (jizhan sched sim) on a cluster (default: the current one) with a workload; one at a time */
        post: operations["post_api_v1_scheduler_simulate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/settings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List platform settings */
        get: operations["get_api_v1_settings"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/settings/{key}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Read a setting (ETag: its revision) */
        get: operations["get_api_v1_settings_key_"];
        /** Write a setting (If-Match: the revision read, to refuse a lost update) */
        put: operations["put_api_v1_settings_key_"];
        post?: never;
        /** Delete a setting */
        delete: operations["delete_api_v1_settings_key_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/store/downloads/{download}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Download the package an activation answered with (its link lasts an hour) */
        get: operations["get_api_v1_store_downloads_download_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/store/listings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The store front: the listings you may see that have a version (?q= searches names, titles, descriptions and tags; ?tag= one tag) */
        get: operations["get_api_v1_store_listings"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/store/listings/{project}/{algorithm}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A listing of the store front */
        get: operations["get_api_v1_store_listings_project_algorithm_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/store/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A customer's client reports usage (frames, channels) of an activation */
        post: operations["post_api_v1_store_usage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's tokens */
        get: operations["get_api_v1_tokens"];
        put?: never;
        /** Create an API token for the caller */
        post: operations["post_api_v1_tokens"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tokens/{token}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a token */
        delete: operations["delete_api_v1_tokens_token_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Usage (GPU-, GPU-memory-, CPU- and memory-hours, cost) of the projects the caller sees, grouped by job, user, project, workspace, day or pool; format=csv for a file */
        get: operations["get_api_v1_usage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List users (platform admins) */
        get: operations["get_api_v1_users"];
        put?: never;
        /** Create a user (platform admins) */
        post: operations["post_api_v1_users"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/users/{username}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A user's profile (the user; platform admins) */
        get: operations["get_api_v1_users_username_"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Update a user: display name and email (the user); disabled and platform_role (platform admins) */
        patch: operations["patch_api_v1_users_username_"];
        trace?: never;
    };
    "/api/v1/users/{username}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Events about a user: account, tokens, memberships (the user; platform admins), oldest first */
        get: operations["get_api_v1_users_username_events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/users/{username}/password": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Change a password (the user, with the current one) or reset it (platform admins); the user's other sessions end */
        post: operations["post_api_v1_users_username_password"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/users/{username}/unlock": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Clear the failed logins counted against a user (platform admins) */
        post: operations["post_api_v1_users_username_unlock"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/version": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Version and source revision */
        get: operations["get_api_v1_version"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Workspaces the caller may see */
        get: operations["get_api_v1_workspaces"];
        put?: never;
        /** Create a workspace */
        post: operations["post_api_v1_workspaces"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A workspace */
        get: operations["get_api_v1_workspaces_workspace_"];
        put?: never;
        post?: never;
        /** Delete an empty workspace (platform admins) */
        delete: operations["delete_api_v1_workspaces_workspace_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/alert-preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** What an expression gives now in this scope: what a rule would fire (its for aside) */
        post: operations["post_api_v1_workspaces_workspace_alert_preview"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/alert-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The built-in alert rules as the workspace's settings make them */
        get: operations["get_api_v1_workspaces_workspace_alert_rules"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/alert-rules/{rule}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Turn a rule on or off or change its severity here (reset: back to the next scope's setting) */
        patch: operations["patch_api_v1_workspaces_workspace_alert_rules_rule_"];
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Alerts of custom rules now: pending (not yet held for their for) or firing */
        get: operations["get_api_v1_workspaces_workspace_alerts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Query the audit trail of requests in the workspace (workspace admins) */
        get: operations["get_api_v1_workspaces_workspace_audit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/custom-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Custom rules (PromQL subset) of this scope */
        get: operations["get_api_v1_workspaces_workspace_custom_rules"];
        put?: never;
        /** Add a custom rule: an expression, how long it must hold (for), severity, labels and annotations */
        post: operations["post_api_v1_workspaces_workspace_custom_rules"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/custom-rules/{custom}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One custom rule */
        get: operations["get_api_v1_workspaces_workspace_custom_rules_custom_"];
        put?: never;
        post?: never;
        /** Remove a custom rule (its alerts end without a resolved message) */
        delete: operations["delete_api_v1_workspaces_workspace_custom_rules_custom_"];
        options?: never;
        head?: never;
        /** Change a custom rule (its pending alerts start over) */
        patch: operations["patch_api_v1_workspaces_workspace_custom_rules_custom_"];
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/dataset-roots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Folders under which the workspace's data owners register datasets */
        get: operations["get_api_v1_workspaces_workspace_dataset_roots"];
        put?: never;
        /** Assign a folder on the server to the workspace as a dataset root (platform admins) */
        post: operations["post_api_v1_workspaces_workspace_dataset_roots"];
        /** Take a dataset root away from the workspace (platform admins; datasets stay) */
        delete: operations["delete_api_v1_workspaces_workspace_dataset_roots"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The workspace's events (its members, projects, roles, dataset roots, and its projects' events), oldest first */
        get: operations["get_api_v1_workspaces_workspace_events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/inhibitions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Inhibition rules: while a source alert fires, targets sharing its `equal` labels are held back */
        get: operations["get_api_v1_workspaces_workspace_inhibitions"];
        put?: never;
        /** Add an inhibition rule (source, target, equal, why) */
        post: operations["post_api_v1_workspaces_workspace_inhibitions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/inhibitions/{inhibition}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove an inhibition rule */
        delete: operations["delete_api_v1_workspaces_workspace_inhibitions_inhibition_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/members": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Members and their roles */
        get: operations["get_api_v1_workspaces_workspace_members"];
        put?: never;
        /** Add a member or change a member's role */
        post: operations["post_api_v1_workspaces_workspace_members"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/members/{username}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove a member */
        delete: operations["delete_api_v1_workspaces_workspace_members_username_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Delivery history of the workspace's receivers, newest first: state, attempts and the last answer */
        get: operations["get_api_v1_workspaces_workspace_notifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/permissions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What the caller may do in the workspace (for clients to offer only that) */
        get: operations["get_api_v1_workspaces_workspace_permissions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/projects": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The workspace's projects the caller may see */
        get: operations["get_api_v1_workspaces_workspace_projects"];
        put?: never;
        /** Create a project */
        post: operations["post_api_v1_workspaces_workspace_projects"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/prometheus-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This scope's rules as a Prometheus rule file (YAML; promtool check rules passes): custom rules scoped as here, built-in ones over jizhan_alert_events_total */
        get: operations["get_api_v1_workspaces_workspace_prometheus_rules"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/receivers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The receivers of the workspace's notifications, by name */
        get: operations["get_api_v1_workspaces_workspace_receivers"];
        put?: never;
        /** Add a receiver: a channel (webhook, slack, dingtalk, wecom, feishu, email) and what it takes */
        post: operations["post_api_v1_workspaces_workspace_receivers"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/receivers/{receiver}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One receiver (its secret is never shown) */
        get: operations["get_api_v1_workspaces_workspace_receivers_receiver_"];
        put?: never;
        post?: never;
        /** Remove a receiver (what it still had to send is cancelled) */
        delete: operations["delete_api_v1_workspaces_workspace_receivers_receiver_"];
        options?: never;
        head?: never;
        /** Change a receiver's configuration, secret, filters or rate */
        patch: operations["patch_api_v1_workspaces_workspace_receivers_receiver_"];
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/receivers/{receiver}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a test message now and answer what the receiver said */
        post: operations["post_api_v1_workspaces_workspace_receivers_receiver_test"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/silences": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Silences that have not ended (and those ended in the last day) */
        get: operations["get_api_v1_workspaces_workspace_silences"];
        put?: never;
        /** Silence alerts whose labels match, for a while (with why) */
        post: operations["post_api_v1_workspaces_workspace_silences"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{workspace}/silences/{silence}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** End a silence now */
        delete: operations["delete_api_v1_workspaces_workspace_silences_silence_"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v2/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Alertmanager's API for Prometheus: a list of alerts (labels, annotations, startsAt, endsAt); each goes to its project label's receivers (alert:update there) or the platform's (platform admins) */
        post: operations["post_api_v2_alerts"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/devenvs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A dev environment's HTTP server and WebSockets, through the platform (its owner; project admins with a token, audited) */
        get: operations["get_devenvs_id_"];
        /** A dev environment's HTTP server and WebSockets, through the platform (its owner; project admins with a token, audited) */
        put: operations["put_devenvs_id_"];
        /** A dev environment's HTTP server and WebSockets, through the platform (its owner; project admins with a token, audited) */
        post: operations["post_devenvs_id_"];
        /** A dev environment's HTTP server and WebSockets, through the platform (its owner; project admins with a token, audited) */
        delete: operations["delete_devenvs_id_"];
        options?: never;
        head?: never;
        /** A dev environment's HTTP server and WebSockets, through the platform (its owner; project admins with a token, audited) */
        patch: operations["patch_devenvs_id_"];
        trace?: never;
    };
    "/git/{project}/git-receive-pack": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Push (git smart HTTP: git clone URL/git/PROJECT with your API token as the password) */
        post: operations["post_git_project_git_receive_pack"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/git/{project}/git-upload-pack": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Clone or fetch (git smart HTTP: git clone URL/git/PROJECT with your API token as the password) */
        post: operations["post_git_project_git_upload_pack"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/git/{project}/info/refs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The refs of the project's repository (git smart HTTP: git clone URL/git/PROJECT with your API token as the password) */
        get: operations["get_git_project_info_refs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process answers */
        get: operations["get_healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics */
        get: operations["get_metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: the store answers (measured every second) */
        get: operations["get_readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Activation: {
            algorithm: string;
            /** @description Where to download the package (one hour) */
            download: string;
            /** @description The signed licence file's text (.jzlic) */
            licence: string;
            licence_id: string;
            project?: string;
            publisher?: Record<string, never>;
            /** @description This machine had activated the code before */
            renewed?: boolean;
            /** @description The package's */
            sha256: string;
            /** Format: int64 */
            size?: number;
            /** Format: date-time */
            valid_until?: string;
            /** @description The version to install */
            version: string;
        };
        ActiveAlert: {
            /** Format: date-time */
            active_since: string;
            annotations: {
                [key: string]: string;
            };
            fingerprint: string;
            /** Format: date-time */
            fired_at?: string;
            labels: {
                [key: string]: string;
            };
            rule: string;
            /** @enum {string} */
            state: "pending" | "firing";
            value: number;
        };
        AlertPreview: {
            samples: {
                labels: {
                    [key: string]: string;
                };
                value: number;
            }[];
        };
        AlertPreviewRequest: {
            expr: string;
        };
        AlertRule: {
            enabled: boolean;
            /** @description A rule over metrics: its expression ("": over events) */
            expr?: string;
            reasons?: string[];
            /** @description job_failed, job_oom_killed, job_lost, job_succeeded, gpu_idle, gpu_unhealthy, gpu_share_memory_high, node_disk_full, devenv_idle_soon, job_queued_long, quota_nearly_used, node_down, training_stalled, training_nan, training_milestone, training_progress, training_completed */
            rule: string;
            /**
             * @description Where the setting comes from
             * @enum {string}
             */
            set_by: "default" | "platform" | "workspace" | "project";
            /** @enum {string} */
            severity: "info" | "warning" | "critical";
            summary?: string;
        };
        AlertRulePatch: {
            enabled?: boolean;
            /** @description true: drop this scope's setting (the next scope's applies) */
            reset?: boolean;
            /** @enum {string} */
            severity?: "info" | "warning" | "critical";
        };
        Algorithm: {
            checks?: Record<string, never>[];
            /** Format: date-time */
            created_at: string;
            /** @description algo_... */
            id: string;
            key_id?: string;
            licence_required?: boolean;
            message?: string;
            name: string;
            /** @description The signing key's name */
            publisher: string;
            sha256: string;
            /** Format: int64 */
            size?: number;
            /** @enum {string} */
            state: "checking" | "ready" | "failed";
            uploaded_by?: string;
            version: string;
        };
        AuditRecord: {
            hash: string;
            id: string;
            /** Format: int64 */
            latency_us?: number;
            prev_hash: string;
            project?: string;
            request_id?: string;
            request_summary?: string;
            resource_name?: string;
            resource_type?: string;
            /** Format: int64 */
            response_status?: number;
            /** Format: int64 */
            seq: number;
            source_ip?: string;
            /** Format: date-time */
            time: string;
            /** Format: int64 */
            time_ms?: number;
            user?: string;
            user_agent?: string;
            verb: string;
            workspace?: string;
        };
        Cluster: {
            context?: string;
            cpu?: number;
            /** Format: date-time */
            created_at?: string;
            created_by?: string;
            /** @description kubeconfig or in_cluster (never shown) */
            credentials?: string;
            enabled: boolean;
            /** Format: int64 */
            gpus: number;
            image?: string | null;
            image_pull_secrets?: string[] | null;
            /** @enum {string} */
            kind: "local" | "kubernetes";
            /** Format: int64 */
            memory_mib?: number;
            /** @description "local" for this machine */
            name: string;
            namespace_prefix?: string | null;
            node_selector?: string | null;
            /** Format: int64 */
            nodes: number;
            output_claim?: string | null;
            pool?: string | null;
            priority_class?: string | null;
            /** Format: int64 */
            ready_nodes?: number;
            /** @description Why it is not ready */
            reason?: string;
            region?: string;
            runtime_class?: string | null;
            /** @description The API server's address */
            server?: string;
            /** @enum {string} */
            state: "ready" | "unreachable" | "disabled";
            /** Format: date-time */
            updated_at?: string;
            volumes?: {
                claim?: string;
                host_path?: string;
                server_path?: string;
            }[] | null;
        };
        Competition: {
            /** Format: date-time */
            closes_at: string;
            columns?: {
                name?: string;
                path?: string;
            }[];
            /** Format: date-time */
            created_at?: string;
            created_by?: string;
            /** Format: int64 */
            daily_limit?: number;
            hidden_suite: string;
            higher_is_better?: boolean;
            /** @description comp_... */
            id: string;
            name: string;
            /** Format: date-time */
            opens_at: string;
            public_suite: string;
            rank_by?: string;
            /** @enum {string} */
            state: "open" | "verifying" | "verified";
            teams?: Record<string, never>;
            title?: string;
            tolerances?: Record<string, never>;
            /** Format: int64 */
            verify_top?: number;
            /** @description Your team, or empty */
            your_team?: string;
        };
        Conversion: {
            /** Format: date-time */
            created_at: string;
            created_by?: string;
            dataset: string;
            /**
             * Format: int64
             * @description Files it wrote
             */
            files?: number;
            /** Format: date-time */
            finished_at?: string | null;
            id: string;
            job_id?: string;
            message?: string;
            /** @description from, to, input, images, output, message */
            request: Record<string, never>;
            /**
             * Format: int64
             * @description The version it made
             */
            result_version?: number | null;
            /** @description queued, running, done, failed or cancelled */
            state: string;
            /**
             * Format: int64
             * @description The version converted
             */
            version: number;
        };
        Curation: {
            /**
             * Format: int64
             * @description The version applying it made
             */
            applied_version?: number | null;
            /** Format: date-time */
            created_at: string;
            created_by?: string;
            dataset: string;
            /** Format: date-time */
            finished_at?: string | null;
            id: string;
            /** @description The job that hashed and checked it */
            job_id?: string;
            message?: string;
            options?: Record<string, never>;
            /** @description queued, running, review, applied, failed or cancelled */
            state: string;
            /** @description images, flagged, groups, proposals, pending, confirmed, rejected, algorithm */
            summary: Record<string, never>;
            /**
             * Format: int64
             * @description The version curated
             */
            version: number;
        };
        CurationDefaults: {
            /** @description radius, min_sharpness, min_brightness, max_brightness, min_width, min_height, brisque, max_brisque */
            options: Record<string, never>;
            /** Format: date-time */
            updated_at?: string | null;
            /** @description null while the built-in thresholds apply */
            updated_by?: string | null;
        };
        CustomRule: {
            annotations: {
                [key: string]: string;
            };
            /** Format: date-time */
            created_at?: string;
            created_by?: string;
            enabled: boolean;
            /** @description PromQL subset (docs/ALERTS.md), as stored (canonical) */
            expr: string;
            /** @description Pending this long before firing (5m) */
            for: string;
            /** @description arl_... */
            id: string;
            labels: {
                [key: string]: string;
            };
            name: string;
            /** @enum {string} */
            scope?: "platform" | "workspace" | "project";
            /** @enum {string} */
            severity: "info" | "warning" | "critical";
        };
        CustomRuleCreate: {
            /** @description summary, description; {{ $labels.NAME }} and {{ $value }} are filled in */
            annotations?: {
                [key: string]: string;
            };
            enabled?: boolean;
            /** @description PromQL subset; a project's rule sees only its series */
            expr: string;
            /** @description A duration: 30s, 5m, 1h30m (default 0s) */
            for?: string;
            labels?: {
                [key: string]: string;
            };
            name: string;
            /** @enum {string} */
            severity?: "info" | "warning" | "critical";
        };
        CustomRulePatch: {
            annotations?: {
                [key: string]: string;
            };
            enabled?: boolean;
            expr?: string;
            for?: string;
            labels?: {
                [key: string]: string;
            };
            /** @enum {string} */
            severity?: "info" | "warning" | "critical";
        };
        Dataset: {
            /** Format: date-time */
            created_at: string;
            created_by?: string;
            name: string;
            /** @description Shown to data owners */
            path?: string;
            /** @description open, internal or secret */
            security_level: string;
        };
        DatasetFile: {
            path: string;
            /** Format: int64 */
            size: number;
        };
        DatasetRoot: {
            /** Format: date-time */
            created_at: string;
            created_by?: string;
            path: string;
        };
        DatasetVersion: {
            /** Format: int64 */
            added?: number;
            /**
             * Format: date-time
             * @description Set while archived: its files are in the archive store, no job can mount it until it is restored
             */
            archived_at?: string | null;
            /** Format: int64 */
            bytes: number;
            /** Format: int64 */
            changed?: number;
            /** Format: date-time */
            created_at: string;
            created_by?: string;
            dataset: string;
            /** Format: int64 */
            files: number;
            id: string;
            /** @description The SHA-256 of its list of files */
            manifest?: string;
            message?: string;
            /**
             * Format: int64
             * @description Bytes of files no earlier version stored: its cost
             */
            new_bytes?: number;
            /** Format: int64 */
            number: number;
            /**
             * Format: int64
             * @description The version it was made from or compared with
             */
            parent?: number | null;
            /** Format: int64 */
            removed?: number;
            /** @description Split -> files */
            splits: Record<string, never>;
            /** @description Tag -> files */
            tags: Record<string, never>;
        };
        Error: {
            error: {
                /** @description invalid_argument, not_found, permission_denied, ... */
                code: string;
                /** @description What was wrong and what to do */
                message: string;
                request_id: string;
            };
        };
        Evaluation: {
            algorithm: string;
            algorithm_version: string;
            config?: Record<string, never>;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            finished_at?: string | null;
            /** @description Whether you see sample-level results */
            full?: boolean;
            /** @description eval_... */
            id: string;
            /** @description The eval job that ran it */
            job_id: string;
            message?: string;
            owner?: string;
            result?: {
                errors?: Record<string, never>;
                metrics?: Record<string, never>;
                passed?: boolean;
                performance?: Record<string, never>;
                /** @description Sample-level results left out */
                redacted?: boolean;
                samples?: Record<string, never>;
                thresholds?: Record<string, never>[];
            } | null;
            /** @enum {string} */
            state: "queued" | "running" | "scoring" | "passed" | "failed" | "error" | "cancelled";
            suite: string;
            suite_level?: string;
            /** Format: int64 */
            suite_version?: number;
        };
        Event: {
            actor?: string;
            id: string;
            message?: string;
            /** @description "" for an event of a workspace or a user */
            project: string;
            reason: string;
            resource_name?: string;
            resource_type?: string;
            /** Format: int64 */
            seq: number;
            /** @description The user it is about */
            subject?: string;
            /** Format: date-time */
            time: string;
            /** @description created, updated, deleted or state */
            type: string;
            workspace?: string;
        };
        GpuHolder: {
            /** Format: int64 */
            cores_percent: number;
            /** @description Another tenant's job */
            hidden?: boolean;
            /** @description The job's id (absent when hidden) */
            job?: string;
            /** @description job or devenv */
            kind?: string;
            /** Format: int64 */
            memory_mib: number;
            name?: string;
            preempting?: boolean;
            project?: string;
            user?: string;
            whole: boolean;
        };
        InboxItem: {
            /** Format: date-time */
            created_at: string;
            /** @description inb_... */
            id: string;
            labels: {
                [key: string]: string;
            };
            /** @description The console page it is about */
            link: string;
            read: boolean;
            rule: string;
            /** @enum {string} */
            severity: "info" | "warning" | "critical";
            title: string;
        };
        Inhibition: {
            comment: string;
            /** Format: date-time */
            created_at?: string;
            created_by?: string;
            equal: string[];
            /** @description inh_... */
            id: string;
            source: Record<string, never>[];
            target: Record<string, never>[];
        };
        InhibitionCreate: {
            /** @description Why (required) */
            comment: string;
            equal?: string[];
            /** @description Matchers of the alerts that hold others back while they fire (text or a list, as a silence's) */
            source: unknown;
            /** @description Matchers of the alerts held back */
            target: unknown;
        };
        Job: {
            /** Format: int64 */
            attempt: number;
            cancel_requested?: boolean;
            /** Format: date-time */
            created_at: string;
            /** Format: int64 */
            exit_code?: number | null;
            /** Format: date-time */
            finished_at?: string | null;
            /** @description job_... */
            id: string;
            /**
             * Format: date-time
             * @description A running dev environment: when it stops if nothing reaches it
             */
            idle_stop_at?: string;
            kind: string;
            /** @description Why it waits, or how it ended */
            message?: string;
            name: string;
            placement?: Record<string, never>[];
            progress?: {
                /** Format: int64 */
                done: number;
                /**
                 * Format: int64
                 * @description Seconds left at the pace so far
                 */
                eta_s?: number;
                /** @enum {string} */
                source: "metrics" | "log";
                /** Format: int64 */
                total: number;
            };
            project: string;
            reason?: string;
            spec?: components["schemas"]["JobRequest"];
            /** Format: date-time */
            started_at?: string | null;
            /** @description queued, admitted, starting, running, succeeded, failed, cancelled, preempted or lost */
            state: string;
            /** @description devenv: /devenvs/ID/ */
            url?: string;
            user?: string;
        };
        JobEvent: {
            /** Format: int64 */
            exit_code?: number | null;
            from: string;
            message?: string;
            reason: string;
            /** Format: int64 */
            seq: number;
            /** Format: date-time */
            time: string;
            to: string;
        };
        JobOutputs: {
            /** Format: int64 */
            bytes: number;
            /** @description Whether you may download them */
            downloadable: boolean;
            /** Format: date-time */
            expires_at?: string;
            /** Format: int64 */
            files: number;
            job_id: string;
            /** @description The strictest data the job read: open, internal or secret */
            level: string;
            /** Format: date-time */
            recorded_at?: string;
            release?: components["schemas"]["Release"];
            /** @description What was not kept (links, special files) */
            skipped?: string;
            /** @description open, held, released or expired */
            state: string;
            /** @description More files than were listed */
            truncated?: boolean;
        };
        JobRequest: {
            /** @description A branch, tag or commit of the project's repository (or {"ref": ...}); the job runs its snapshot, read-only at /code, and records the commit */
            code?: unknown;
            /** @description devenv, set by the platform: the repository at /code.git is writable (its owner may push) */
            code_write?: boolean;
            command: string[];
            datasets?: string[];
            env?: {
                [key: string]: string;
            };
            environment?: {
                packages?: string[];
                /** @description A Python venv at /project/venvs/NAME, made on first use */
                venv?: string;
            };
            /** @description A container image: the job runs on a Kubernetes cluster, in it (default: the cluster's image) */
            image?: string;
            inputs?: string[];
            /** @description train (default), eval or devenv */
            kind?: string;
            /** Format: int64 */
            max_restarts?: number;
            monitor?: {
                /** @description TrainingCompleted with the final metrics */
                completion?: boolean;
                milestones?: string[];
                /** @description LossNaN when a loss becomes NaN or infinite (default on) */
                nan?: boolean;
                /**
                 * Format: int64
                 * @description TrainingProgress at each multiple (default 25; 0 off)
                 */
                progress_every_percent?: number;
                /**
                 * Format: int64
                 * @description No metric and no log line this long: TrainingStalled (default 30; 0 off)
                 */
                stalled_minutes?: number;
            };
            name: string;
            pool?: string;
            /** Format: int64 */
            port?: number;
            preemptible?: boolean;
            /** Format: int64 */
            priority?: number;
            resources?: {
                cpu?: number;
                gpu_share?: {
                    /** Format: int64 */
                    cores_percent: number;
                    /** Format: int64 */
                    memory_mib: number;
                };
                /** @description Below 1: a share */
                gpus?: number;
                /** Format: int64 */
                memory_mib?: number;
            };
            /** @description never or on_failure */
            restart_policy?: string;
            /** Format: int64 */
            runtime_limit_s?: number;
            /** @description devenv: its server sees paths below /devenvs/ID (default false: the whole path, JIZHAN_BASE_URL) */
            strip_prefix?: boolean;
            /** @description Mount the platform's programs (jizhan-algo) at /opt/jizhan/bin */
            tools?: boolean;
            /** @description Inside the sandbox; default /job */
            workdir?: string;
        };
        JobSettings: {
            allow_egress?: boolean;
            /** Format: int64 */
            devenv_gpu_idle_percent?: number;
            /** Format: int64 */
            devenv_idle_s?: number;
            /** Format: int64 */
            queued_alert_s?: number;
        };
        LabelJob: {
            /** Format: date-time */
            accepted_at?: string | null;
            annotator: string;
            id: string;
            /** Format: int64 */
            images: number;
            /** @description The reviewer's, when sent back */
            note?: string;
            /**
             * Format: int64
             * @description Images saved at least once
             */
            opened?: number;
            reviewer: string;
            /** Format: int64 */
            reworks?: number;
            /**
             * Format: int64
             * @description 1, 2, ... in the task
             */
            seq: number;
            /** Format: int64 */
            shapes?: number;
            /** Format: date-time */
            started_at?: string | null;
            /** @description annotating, review, rework or accepted */
            state: string;
            /** Format: date-time */
            submitted_at?: string | null;
        };
        LabelJobDetail: {
            /** Format: date-time */
            accepted_at?: string | null;
            annotator: string;
            id: string;
            /** Format: int64 */
            images: number;
            items: {
                /** Format: int64 */
                height: number;
                path: string;
                shapes: Record<string, never>[];
                /** @description human or model */
                source?: string;
                /** @description The shapes as the annotator last submitted them */
                submitted?: unknown;
                updated_by?: string;
                /**
                 * Format: int64
                 * @description 0 until the image is first saved
                 */
                width: number;
            }[];
            /** @description The reviewer's, when sent back */
            note?: string;
            /**
             * Format: int64
             * @description Images saved at least once
             */
            opened?: number;
            reviewer: string;
            /** Format: int64 */
            reworks?: number;
            /**
             * Format: int64
             * @description 1, 2, ... in the task
             */
            seq: number;
            /** Format: int64 */
            shapes?: number;
            /** Format: date-time */
            started_at?: string | null;
            /** @description annotating, review, rework or accepted */
            state: string;
            /** Format: date-time */
            submitted_at?: string | null;
            task: components["schemas"]["LabelTask"];
        };
        LabelTask: {
            /** Format: date-time */
            created_at?: string;
            created_by?: string;
            dataset: string;
            /**
             * Format: int64
             * @description The version the export made
             */
            exported_version?: number | null;
            id: string;
            /** Format: int64 */
            images: number;
            /** @description job state -> jobs */
            jobs: Record<string, never>;
            name: string;
            /** @description classes, shapes, attributes */
            spec: Record<string, never>;
            /** @description open or exported */
            state: string;
            /**
             * Format: int64
             * @description The version labelled
             */
            version: number;
        };
        LabelWork: {
            /** Format: date-time */
            accepted_at?: string | null;
            annotator: string;
            dataset: string;
            id: string;
            /** Format: int64 */
            images: number;
            /** @description The reviewer's, when sent back */
            note?: string;
            /**
             * Format: int64
             * @description Images saved at least once
             */
            opened?: number;
            reviewer: string;
            /** Format: int64 */
            reworks?: number;
            /** @enum {string} */
            role: "annotate" | "review";
            /**
             * Format: int64
             * @description 1, 2, ... in the task
             */
            seq: number;
            /** Format: int64 */
            shapes?: number;
            /** Format: date-time */
            started_at?: string | null;
            /** @description annotating, review, rework or accepted */
            state: string;
            /** Format: date-time */
            submitted_at?: string | null;
            task: string;
            task_id: string;
        };
        LifecyclePlan: {
            /** Format: date-time */
            at: string;
            dataset: string;
            /** Format: int64 */
            file_bytes?: number;
            files?: {
                /** Format: int64 */
                age_days?: number;
                /** Format: int64 */
                bytes?: number;
                path: string;
                /**
                 * Format: int64
                 * @description 1-based
                 */
                rule: number;
            }[] | null;
            /**
             * Format: int64
             * @description Files a keep rule protected
             */
            files_kept: number;
            /**
             * Format: int64
             * @description Files a new version leaves out
             */
            files_removed: number;
            /**
             * Format: int64
             * @description The version applying made
             */
            new_version?: number | null;
            /**
             * Format: int64
             * @description The version the file rules looked at
             */
            newest?: number | null;
            versions: {
                /** @description archive, delete, keep, busy (left alone) or failed */
                action: string;
                /** Format: int64 */
                age_days?: number;
                /** Format: int64 */
                bytes?: number;
                /** Format: int64 */
                number: number;
                reason: string;
                /** Format: int64 */
                rule?: number | null;
            }[];
        };
        LifecyclePolicy: {
            /** @description Applied once a day without a person */
            automatic: boolean;
            /** @description What the last run did: files_removed, new_version, archived, deleted, by */
            last_result?: Record<string, never>;
            /** Format: date-time */
            last_run_at?: string | null;
            rules: components["schemas"]["LifecycleRule"][];
            /** Format: date-time */
            updated_at?: string | null;
            updated_by?: string | null;
        };
        LifecycleRule: {
            /** @description keep, archive or delete */
            action: string;
            /**
             * Format: int64
             * @description Only what is at least this many days old
             */
            after_days: number;
            /**
             * Format: int64
             * @description Never the newest this many versions
             */
            keep_newest: number;
            /** @description Files in this split (a file rule) */
            split?: string | null;
            /** @description Files with this tag (a file rule) */
            tag?: string | null;
            /**
             * Format: int64
             * @description Only this version (a version rule)
             */
            version?: number | null;
        };
        Listing: {
            /** Format: date-time */
            created_at?: string;
            created_by?: string;
            customers?: string[];
            description?: string;
            details?: {
                hardware?: Record<string, never>;
                inputs?: string[];
                tags?: string[];
            };
            id: string;
            /** @description The algorithm's package name */
            name: string;
            /** @description The seller's project */
            project: string;
            tiers: {
                /**
                 * Format: int64
                 * @description 0: unlimited
                 */
                channels?: number;
                name?: string;
                price?: string;
                /** @description Frames a second; 0: unlimited */
                qps?: number;
                /** Format: int64 */
                term_days?: number;
            }[];
            title: string;
            /** Format: date-time */
            updated_at?: string;
            versions: {
                /** Format: date-time */
                created_at?: string;
                created_by?: string;
                notes?: string;
                reports?: Record<string, never>[];
                sha256: string;
                /** Format: int64 */
                size?: number;
                version: string;
            }[];
            /** @enum {string} */
            visibility: "public" | "workspace" | "customers";
            yours?: {
                /** @description You may change it (listing:update) */
                manage: boolean;
                /** @description You may sell it (order:create) */
                sell: boolean;
            };
        };
        LogPolicy: {
            /** @description true, false or settings (docs/LOGS.md) */
            detectors?: Record<string, never>;
            keep_raw?: boolean;
            /** Format: int64 */
            max_line_bytes?: number;
            /** @description open, blacklist or whitelist */
            mode: string;
            /** Format: int64 */
            rate_bytes_per_s?: number;
            rules?: {
                /** @description drop or redact */
                action?: string;
                ignore_case?: boolean;
                name: string;
                /** @description Hyperscan syntax */
                pattern: string;
            }[];
            /** Format: int64 */
            total_bytes?: number;
        };
        LogPolicyEntry: {
            edited: boolean;
            /** @description open, internal or secret */
            level: string;
            policy: components["schemas"]["LogPolicy"];
            /** Format: date-time */
            updated_at?: string;
            updated_by?: string;
        };
        Login: {
            /** @description with cookie: true, the X-CSRF-Token of the session */
            csrf_token?: string;
            /** Format: date-time */
            expires_at: string;
            /** @description the session token (absent with cookie: true) */
            token?: string;
            user?: {
                platform_role?: string;
                username?: string;
            };
        };
        Member: {
            role: string;
            username: string;
        };
        NewToken: components["schemas"]["Token"] & {
            /** @description The secret, shown once */
            token: string;
        };
        Notification: {
            /** Format: int64 */
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            delivered_at?: string;
            /** @description ntf_... */
            id: string;
            last_answer?: string;
            /** Format: int64 */
            last_code?: number;
            /** Format: date-time */
            next_attempt_at?: string;
            receiver: string;
            rule: string;
            severity: string;
            /** @enum {string} */
            state: "pending" | "delivered" | "failed" | "cancelled" | "silenced" | "inhibited";
            title: string;
        };
        Order: {
            /** Format: int64 */
            channels?: number;
            codes: {
                /** @description The activation code */
                code: string;
                id: string;
                reason?: string;
                /** Format: date-time */
                revoked_at?: string;
                /** Format: int64 */
                seats: number;
                /** @enum {string} */
                state: "active" | "revoked";
                /** Format: int64 */
                used: number;
            }[];
            /** @enum {string} */
            codes_per?: "seat" | "order";
            /** Format: date-time */
            created_at?: string;
            created_by?: string;
            customer: string;
            id: string;
            listing: string;
            qps?: number;
            /** Format: int64 */
            seats: number;
            tier: string;
            /** Format: date-time */
            valid_until?: string;
        };
        OutputFile: {
            /** @description Relative to /output */
            path: string;
            /** @description Absent while the outputs are held (and you are no reviewer) */
            sha256?: string;
            /** Format: int64 */
            size: number;
        };
        PendingJob: {
            /** @description GPUs asked, all workers (a share: its charge) */
            gpus?: number;
            job: string;
            kind?: string;
            name?: string;
            /**
             * Format: int64
             * @description Place in the whole queue, from 1
             */
            position: number;
            /** Format: int64 */
            priority?: number;
            project: string;
            /** @description Why it waits, in words */
            reason: string;
            user?: string;
        };
        PreAnnotation: {
            /** Format: date-time */
            created_at: string;
            created_by?: string;
            /** Format: date-time */
            finished_at?: string | null;
            id: string;
            /** @description The job that ran the algorithm */
            job_id: string;
            message?: string;
            /** @description algorithm, version, min_confidence, from, classes, gpus */
            request: Record<string, never>;
            /** @description queued, running, done, failed or cancelled */
            state: string;
            /** @description frames, images (given shapes), shapes, touched (saved by a person: left alone), errors, not_in_task, dropped {reason: objects} */
            summary: Record<string, never>;
        };
        Project: {
            /** Format: date-time */
            created_at: string;
            description?: string;
            name: string;
            workspace: string;
        };
        ProjectCode: {
            branches: {
                commit: string;
                name: string;
            }[];
            /** @description Append to the server's URL: git clone URL/git/PROJECT */
            clone_path: string;
            commits: {
                author: string;
                id: string;
                subject: string;
                /** Format: date-time */
                time: string;
            }[];
            may_push: boolean;
            /** @description Whose commits are listed */
            ref?: string;
        };
        Proposal: {
            /** Format: date-time */
            decided_at?: string | null;
            decided_by?: string;
            /** @description pending, confirmed or rejected */
            decision: string;
            /**
             * Format: int64
             * @description Bits from the kept image's hash
             */
            distance?: number;
            /** @description A duplicate's group's kept image */
            keep?: string | null;
            /** @description duplicate or quality */
            kind: string;
            path: string;
            reason: string;
        };
        /** @description Absent or null limits are unlimited */
        Quota: {
            clusters?: string[] | null;
            concurrent_jobs?: number | null;
            cpu_cores?: number | null;
            gpu_memory_mib?: number | null;
            gpus?: number | null;
            memory_mib?: number | null;
            per_user_gpus?: number | null;
            storage_mib?: number | null;
            /** @description What the project uses now (GET only): gpus, gpu_memory_mib (held on its GPUs; a whole GPU holds all of its memory), per_user_gpus ({user: GPUs}), cpu_cores, memory_mib, concurrent_jobs (running), pending_jobs, storage_mib */
            readonly usage?: Record<string, never>;
        };
        Receiver: {
            /** @enum {string} */
            channel: "webhook" | "slack" | "dingtalk" | "wecom" | "feishu" | "email";
            /** @description url (smtp_url, from, to, username for email) */
            config: Record<string, never>;
            /** Format: date-time */
            created_at?: string;
            created_by?: string;
            enabled: boolean;
            group_by: string[];
            group_interval: string;
            group_wait: string;
            /** @description A secret is set (it is never shown) */
            has_secret: boolean;
            /** @description rcv_... */
            id: string;
            /** @enum {string} */
            language: "en" | "zh-CN";
            matchers?: Record<string, never>[];
            /** @enum {string} */
            min_severity: "info" | "warning" | "critical";
            name: string;
            /** Format: int64 */
            rate_per_minute: number;
            repeat_interval: string;
            rules: string[];
            /** @enum {string} */
            scope?: "platform" | "workspace" | "project" | "user";
            templates?: Record<string, never>;
        };
        ReceiverCreate: {
            /** @enum {string} */
            channel: "webhook" | "slack" | "dingtalk" | "wecom" | "feishu" | "email";
            config: Record<string, never>;
            enabled?: boolean;
            /** @description Labels whose values make a group (["..."]: a group per alert; []: no grouping, each alert at once) */
            group_by?: string[];
            /** @description A group that changed waits this long after its last message (5m) */
            group_interval?: string;
            /** @description A new group waits this long for more (30s; 0s to 1h) */
            group_wait?: string;
            /** @enum {string} */
            language?: "en" | "zh-CN";
            /** @description Label matchers every alert it takes must satisfy: the text team="cv", severity=~"warning|critical" or a list of {label, op, value}; "" or [] for none */
            matchers?: unknown;
            /** @enum {string} */
            min_severity?: "info" | "warning" | "critical";
            /** @description 1 to 63 lower-case letters, digits, '-' or '_' */
            name: string;
            /**
             * Format: int64
             * @description 1 to 6000 (DingTalk robots: 20)
             */
            rate_per_minute?: number;
            /** @description A group still firing is sent again this often (4h; 0s: never) */
            repeat_interval?: string;
            rules?: string[];
            /** @description Signing secret, robot secret or SMTP password; stored encrypted */
            secret?: string;
            /** @description Its own title and text for chat and mail: {{ $status }}, {{ $severity }}, {{ $count }}, {{ $title }}, {{ $text }}, {{ $link }}, {{ $receiver }}, {{ $labels.NAME }}, {{ $annotations.NAME }} ({} for the built-in words) */
            templates?: Record<string, never>;
        };
        ReceiverPatch: {
            config?: Record<string, never>;
            enabled?: boolean;
            /** @description Labels whose values make a group (["..."]: a group per alert; []: no grouping, each alert at once) */
            group_by?: string[];
            /** @description A group that changed waits this long after its last message (5m) */
            group_interval?: string;
            /** @description A new group waits this long for more (30s; 0s to 1h) */
            group_wait?: string;
            /** @enum {string} */
            language?: "en" | "zh-CN";
            /** @description Label matchers every alert it takes must satisfy: the text team="cv", severity=~"warning|critical" or a list of {label, op, value}; "" or [] for none */
            matchers?: unknown;
            /** @enum {string} */
            min_severity?: "info" | "warning" | "critical";
            /**
             * Format: int64
             * @description 1 to 6000 (DingTalk robots: 20)
             */
            rate_per_minute?: number;
            /** @description A group still firing is sent again this often (4h; 0s: never) */
            repeat_interval?: string;
            rules?: string[];
            /** @description "" removes it */
            secret?: string;
            /** @description Its own title and text for chat and mail: {{ $status }}, {{ $severity }}, {{ $count }}, {{ $title }}, {{ $text }}, {{ $link }}, {{ $receiver }}, {{ $labels.NAME }}, {{ $annotations.NAME }} ({} for the built-in words) */
            templates?: Record<string, never>;
        };
        ReceiverTest: {
            /**
             * Format: int64
             * @description HTTP status or SMTP reply; 0: no answer
             */
            code: number;
            /** @description What the receiver answered, or why nothing was sent */
            detail: string;
            ok: boolean;
        };
        Release: {
            comment?: string;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            decided_at?: string;
            /** @description rel_... */
            id: string;
            job_id: string;
            reason: string;
            requester: string;
            reviewer?: string;
            /** @description pending, approved, refused or superseded */
            state: string;
        };
        Role: {
            builtin: boolean;
            /** @description Custom roles: who made it */
            created_by?: string;
            name: string;
            permissions: string[];
            /** @description platform, workspace or project */
            scope: string;
            /** @description Custom roles: the workspace it was made in; null: by a platform admin */
            workspace?: string | null;
        };
        SchedulerGpu: {
            /** Format: int64 */
            cores_used_percent?: number;
            healthy?: boolean;
            holders: components["schemas"]["GpuHolder"][];
            /** Format: int64 */
            index: number;
            /** Format: int64 */
            memory_mib: number;
            /** Format: int64 */
            memory_used_mib?: number;
            model?: string;
            uuid?: string;
            virtual?: boolean;
        };
        SchedulerNode: {
            /** @description "local" (this machine) or a cluster's name */
            cluster?: string;
            cpu?: number;
            cpu_used?: number;
            flavor?: string;
            gpus: components["schemas"]["SchedulerGpu"][];
            /** Format: int64 */
            memory_mib?: number;
            /** Format: int64 */
            memory_used_mib?: number;
            name: string;
            pool: string;
            /** @description false: takes no new job (its cluster stopped answering, or is disabled) */
            schedulable?: boolean;
        };
        SchedulerView: {
            /** Format: date-time */
            as_of?: string;
            gpus_allocated?: number;
            gpus_total?: number;
            nodes: components["schemas"]["SchedulerNode"][];
            /**
             * @description Where jobs are placed (config jobs.placement_policy, docs/SCHEDULING.md)
             * @enum {string}
             */
            policy?: "fgd" | "binpack" | "spread";
            projects: {
                /** @description null: no GPU quota */
                gpus_quota?: number | null;
                gpus_used?: number;
                /** Format: int64 */
                pending_jobs?: number;
                project?: string;
                /** @description Fair share's memory: GPU-hours used lately, halving every hour */
                recent_gpu_hours?: number;
                /** Format: int64 */
                running_jobs?: number;
            }[];
            queue: components["schemas"]["PendingJob"][];
            /**
             * Format: int64
             * @description Pending jobs of every tenant (non-admins)
             */
            queue_length?: number;
        };
        Series: {
            /**
             * Format: int64
             * @description Of them, in the range asked
             */
            in_range: number;
            points: {
                /** Format: int64 */
                count?: number;
                max?: number | ("NaN" | "Infinity" | "-Infinity");
                min?: number | ("NaN" | "Infinity" | "-Infinity");
                smoothed?: number | ("NaN" | "Infinity" | "-Infinity");
                /** Format: int64 */
                step: number;
                /**
                 * Format: int64
                 * @description Unix milliseconds
                 */
                time: number;
                value: number | ("NaN" | "Infinity" | "-Infinity");
                x: number;
            }[];
            /** @description Fewer points returned than in the range */
            reduced: boolean;
            run: string;
            tag: string;
            /**
             * Format: int64
             * @description Points in the series
             */
            total: number;
        };
        Setting: {
            key: string;
            /** Format: int64 */
            revision: number;
            /** Format: date-time */
            updated_at?: string;
            /** @description Any JSON value */
            value: unknown;
        };
        Silence: {
            comment: string;
            created_by?: string;
            /** Format: date-time */
            ends_at: string;
            /** @description sil_... */
            id: string;
            matchers: {
                label: string;
                /** @enum {string} */
                op: "=" | "!=" | "=~" | "!~";
                value: string;
            }[];
            /** Format: date-time */
            starts_at: string;
            /** @enum {string} */
            state: "pending" | "active" | "expired";
        };
        SilenceCreate: {
            /** @description Why (required) */
            comment: string;
            /** @description Instead of ends_at: 30m, 2h, 1d */
            duration?: string;
            /** Format: date-time */
            ends_at?: string;
            /** @description A list of {label, op, value}, or the text alertname="job_failed", job=~"a.*" */
            matchers: unknown;
            /** Format: date-time */
            starts_at?: string;
        };
        SimulationReport: {
            /** @description The cluster YAML simulated */
            cluster?: string;
            /** @description By pool: hour[], allocated[] and used[] (fractions) */
            series: Record<string, never>;
            /** @description hours, jobs, pools {allocated, used}, classes {wait percentiles}, projects {entitled, received}, users, preemptions, rejected, decisions */
            summary: Record<string, never>;
            summary_markdown?: string;
            /** Format: int64 */
            wall_ms?: number;
        };
        Submission: {
            algorithm?: string;
            /** Format: date-time */
            created_at: string;
            csv_sha256?: string;
            /** @description sub_... */
            id: string;
            message?: string;
            /** @description Hidden split: after the close */
            score?: number | null;
            /** @enum {string} */
            split: "public" | "hidden";
            /** @enum {string} */
            state: "scored" | "error";
            team: string;
            user?: string;
            version?: string;
        };
        Subscription: {
            rule: string;
            subscribed: boolean;
            summary?: string;
        };
        Suite: {
            /** Format: int64 */
            annotations_bytes?: number;
            annotations_file?: string;
            /** Format: date-time */
            created_at: string;
            created_by?: string;
            /** @description The samples */
            dataset: string;
            description?: string;
            fps?: number;
            /** Format: int64 */
            frame_timeout_s?: number;
            /** @description suite_... */
            id: string;
            /** @description Inside the dataset; empty: all of it */
            input?: string;
            /**
             * @description The dataset's level
             * @enum {string}
             */
            level: "open" | "internal" | "secret";
            /** Format: int64 */
            max_frames?: number;
            name: string;
            /** Format: int64 */
            runtime_limit_s?: number;
            /** @description YAML or JSON (the full view) */
            template?: string;
            template_name?: string;
            thresholds: string[];
            /** Format: date-time */
            updated_at?: string;
            /**
             * Format: int64
             * @description Each change makes a new one
             */
            version: number;
        };
        Token: {
            /** Format: date-time */
            created_at?: string;
            /** Format: date-time */
            expires_at: string;
            /** @description tok_... */
            id: string;
            /** @description session or api */
            kind: string;
            name: string;
            /** @description The one project it may act on */
            project?: string | null;
            /** Format: date-time */
            revoked_at?: string | null;
        };
        TrainingRun: {
            channel?: {
                dropped?: {
                    [key: string]: number;
                };
                /**
                 * Format: int64
                 * @description Points the job's metrics channel stored
                 */
                points?: number;
                /**
                 * Format: int64
                 * @description Other records it passed
                 */
                records?: number;
            };
            config: {
                [key: string]: unknown;
            };
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            finished_at?: string | null;
            /** @description run_... */
            id: string;
            /** @description The job it belongs to */
            job_id?: string | null;
            last: {
                [key: string]: unknown;
            };
            name: string;
            notes?: {
                text?: string;
                /** Format: date-time */
                time?: string;
            }[];
            /** @description The user who logs to it */
            owner: string;
            /**
             * Format: int64
             * @description Points logged
             */
            points: number;
            progress?: {
                /** Format: int64 */
                done: number;
                /** Format: int64 */
                total: number;
            } | null;
            /** @enum {string} */
            state: "running" | "finished";
            tags?: string[];
            /** Format: date-time */
            updated_at?: string;
        };
        Upload: {
            /** Format: date-time */
            created_at?: string;
            /** @description The dataset it becomes */
            dataset: string;
            /** Format: date-time */
            expires_at?: string;
            /** @description upl_... */
            id: string;
            /**
             * Format: int64
             * @description Bytes received; send the next chunk from here
             */
            offset: number;
            security_level?: string;
            /** Format: int64 */
            size: number;
        };
        User: {
            /** Format: date-time */
            created_at: string;
            display_name?: string;
            email?: string;
            /** @description platform-admin or platform-regular */
            platform_role: string;
            /** @description active or disabled */
            state: string;
            username: string;
        };
        Verdict: {
            /** Format: date-time */
            created_at?: string;
            /** @description The signed envelope: payload, key_id, signature */
            document?: Record<string, never>;
            /** @description The re-run */
            evaluation?: string;
            /** @description vrd_... */
            id: string;
            /** @enum {string} */
            state: "running" | "done";
            submission: string;
            team: string;
        };
        VersionFile: {
            /** @description The kept image of its duplicate group */
            duplicate_of?: string | null;
            /** @description In a duplicate group the newest check found */
            in_group?: boolean;
            path: string;
            quality?: {
                algorithm?: string;
                brightness?: number;
                /** Format: int64 */
                height?: number;
                phash?: string;
                /** @description What it fails ("": nothing) */
                problems: string;
                sharpness?: number;
                /** Format: int64 */
                width?: number;
            } | null;
            sha256: string;
            /** Format: int64 */
            size: number;
            split: string;
            tags: string[];
        };
        Workspace: {
            /** Format: date-time */
            created_at: string;
            description?: string;
            name: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    post_api_v1_activate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description XXXX-XXXX-XXXX-XXXX */
                    code: string;
                    /** @description `jizhan client fingerprint` */
                    fingerprint: string;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Activation"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_alerting_alert_preview: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertPreviewRequest"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertPreview"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_alert_rules: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertRule"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_alerting_alert_rules_rule_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                rule: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertRulePatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_alerting_alertmanager: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_alerts: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ActiveAlert"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_custom_rules: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_alerting_custom_rules: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CustomRuleCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                custom: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_alerting_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                custom: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_alerting_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                custom: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CustomRulePatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_inhibitions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Inhibition"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_alerting_inhibitions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["InhibitionCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Inhibition"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_alerting_inhibitions_inhibition_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                inhibition: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_notifications: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Notification"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_prometheus_rules: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_receivers: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Receiver"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_alerting_receivers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReceiverCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_alerting_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_alerting_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                receiver: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReceiverPatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_alerting_receivers_receiver_test: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReceiverTest"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_alerting_silences: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Silence"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_alerting_silences: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SilenceCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Silence"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_alerting_silences_silence_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                silence: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_audit: {
        parameters: {
            query?: {
                /** @description Only this user's records */
                user?: string;
                /** @description create, update, delete, login, login_failed, logout, ... */
                verb?: string;
                /** @description A resource type */
                resource?: string;
                /** @description Only this project's records */
                project?: string;
                /** @description Only answers with this HTTP status (403, say) */
                status?: number;
                /** @description Only requests from this address */
                source?: string;
                /** @description From this time (RFC 3339) */
                since?: string;
                /** @description Before this time (RFC 3339) */
                until?: string;
                /** @description jsonl: JSON lines, with X-Next-Page-Token */
                format?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["AuditRecord"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_audit_verify: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * Format: int64
                         * @description Records in archives that verify
                         */
                        archived_records?: number;
                        /** Format: int64 */
                        archives?: number;
                        /**
                         * Format: int64
                         * @description The first record that does not verify
                         */
                        first_bad_seq?: number | null;
                        intact?: boolean;
                        /** @description What is wrong, naming the archive file if any */
                        reason?: string;
                        /**
                         * Format: int64
                         * @description Live records that verify
                         */
                        records?: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_auth_login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description true (the console): the session goes into an HttpOnly cookie and the answer carries its csrf_token instead of the token */
                    cookie?: boolean;
                    password: string;
                    username: string;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Login"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_auth_logout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_auth_whoami: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_autotest_verdict_key: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_clusters: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Cluster"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_clusters: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The kubeconfig context (default: its current-context) */
                    context?: string;
                    /** @description false: it takes no new job */
                    enabled?: boolean;
                    /** @description Register it even if it does not answer now */
                    force?: boolean;
                    /** @description The image of jobs that name none */
                    image?: string;
                    image_pull_secrets?: string[];
                    /** @description Use the server's own service account (it runs in that cluster) */
                    in_cluster?: boolean;
                    /** @description A kubeconfig's YAML text (token or client certificate) */
                    kubeconfig?: string;
                    /** @description Lower-case letters, digits and '-' */
                    name?: string;
                    /** @description A project's namespace: prefix + project (default jizhan-) */
                    namespace_prefix?: string;
                    /** @description A label selector: which nodes are the platform's */
                    node_selector?: string;
                    /** @description A PVC for jobs' /output (default: released with the pod) */
                    output_claim?: string;
                    /** @description The scheduler's pool of its nodes */
                    pool?: string;
                    priority_class?: string;
                    region?: string;
                    runtime_class?: string;
                    volumes?: {
                        /** @description A PVC holding it in each project namespace */
                        claim?: string;
                        /** @description Or the same folder on every node */
                        host_path?: string;
                        /** @description A folder of the server */
                        server_path: string;
                    }[];
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Cluster"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_clusters_cluster_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                cluster: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Cluster"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_clusters_cluster_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                cluster: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_clusters_cluster_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                cluster: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The kubeconfig context (default: its current-context) */
                    context?: string;
                    /** @description false: it takes no new job */
                    enabled?: boolean;
                    /** @description Register it even if it does not answer now */
                    force?: boolean;
                    /** @description The image of jobs that name none */
                    image?: string;
                    image_pull_secrets?: string[];
                    /** @description Use the server's own service account (it runs in that cluster) */
                    in_cluster?: boolean;
                    /** @description A kubeconfig's YAML text (token or client certificate) */
                    kubeconfig?: string;
                    /** @description Lower-case letters, digits and '-' */
                    name?: string;
                    /** @description A project's namespace: prefix + project (default jizhan-) */
                    namespace_prefix?: string;
                    /** @description A label selector: which nodes are the platform's */
                    node_selector?: string;
                    /** @description A PVC for jobs' /output (default: released with the pod) */
                    output_claim?: string;
                    /** @description The scheduler's pool of its nodes */
                    pool?: string;
                    priority_class?: string;
                    region?: string;
                    runtime_class?: string;
                    volumes?: {
                        /** @description A PVC holding it in each project namespace */
                        claim?: string;
                        /** @description Or the same folder on every node */
                        host_path?: string;
                        /** @description A folder of the server */
                        server_path: string;
                    }[];
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Cluster"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_jobs: {
        parameters: {
            query?: {
                /** @description true: only queued to running jobs */
                active?: boolean;
                /** @description Only jobs in this state */
                state?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Job"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_me_inbox: {
        parameters: {
            query?: {
                /** @description true: only those not yet read */
                unread?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["InboxItem"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_me_inbox_read: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    all?: boolean;
                    ids?: string[];
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        marked: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_me_inbox_unread: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        unread: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_me_notifications: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Notification"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_me_receivers: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Receiver"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_me_receivers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReceiverCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_me_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_me_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_me_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                receiver: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReceiverPatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_me_receivers_receiver_test: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReceiverTest"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_me_subscriptions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Subscription"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_me_subscriptions_rule_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                rule: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    subscribed: boolean;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_monitoring_gpus: {
        parameters: {
            query?: {
                /** @description utilization (default), memory, memory_copy, temperature, power or sm_clock */
                metric?: string;
                /** @description How far back from end: a duration (default 1h) */
                range?: string;
                /** @description The end, RFC 3339 (default now) */
                end?: string;
                /** @description Seconds between points: a duration (default range / 240, at least 1s) */
                step?: string;
                /** @description Within each step: avg (default), min or max */
                agg?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description why the series are per minute and rounded, when they are */
                        coarse?: string;
                        /** Format: date-time */
                        end: string;
                        metric?: string;
                        series: {
                            labels: Record<string, never>;
                            metric?: string;
                            points: number[][];
                        }[];
                        /**
                         * @description where the series come from
                         * @enum {string}
                         */
                        source?: "embedded" | "prometheus";
                        /** Format: date-time */
                        start: string;
                        /** Format: int64 */
                        step_s: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_nodes: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_openapi_json: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects: {
        parameters: {
            query?: {
                /** @description Only this workspace's projects */
                workspace?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Project"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_alert_preview: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertPreviewRequest"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertPreview"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_alert_rules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertRule"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_projects_project_alert_rules_rule_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                rule: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertRulePatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_alerts: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ActiveAlert"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_algorithms: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Algorithm"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_algorithms: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Algorithm"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_algorithms_algorithm_version_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                algorithm: string;
                version: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Algorithm"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_algorithms_algorithm_version_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                algorithm: string;
                version: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_code: {
        parameters: {
            query?: {
                /** @description The branch, tag or commit whose history to show (default main, or the first branch) */
                ref?: string;
                /** @description Commits to show, 1 to 200 (default 20) */
                limit?: number;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ProjectCode"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_codes_activation_code_activations: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                activation_code: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>[];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_codes_activation_code_revoke: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                activation_code: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Shown to the customer's client */
                    reason?: string;
                };
            };
        };
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_competitions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Competition"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_competitions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** Format: date-time */
                    closes_at?: string;
                    columns?: {
                        name: string;
                        path: string;
                    }[];
                    /**
                     * Format: int64
                     * @description Submissions per team per UTC day (default 5)
                     */
                    daily_limit?: number;
                    /** @description The final, hidden split's suite */
                    hidden_suite?: string;
                    higher_is_better?: boolean;
                    /** @description 1 to 64 of a-z, 0-9, '_', '-' */
                    name?: string;
                    /** Format: date-time */
                    opens_at?: string;
                    /** @description The public leaderboard's suite */
                    public_suite?: string;
                    /** @description The metric that ranks (default accuracy) */
                    rank_by?: string;
                    teams?: {
                        [key: string]: string[];
                    };
                    title?: string;
                    tolerances?: {
                        [key: string]: number;
                    };
                    /**
                     * Format: int64
                     * @description Teams whose packages are run again at the close (default 3)
                     */
                    verify_top?: number;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Competition"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_competitions_competition_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                competition: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Competition"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_projects_project_competitions_competition_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                competition: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** Format: date-time */
                    closes_at?: string;
                    columns?: {
                        name: string;
                        path: string;
                    }[];
                    /**
                     * Format: int64
                     * @description Submissions per team per UTC day (default 5)
                     */
                    daily_limit?: number;
                    /** @description The final, hidden split's suite */
                    hidden_suite?: string;
                    higher_is_better?: boolean;
                    /** @description 1 to 64 of a-z, 0-9, '_', '-' */
                    name?: string;
                    /** Format: date-time */
                    opens_at?: string;
                    /** @description The public leaderboard's suite */
                    public_suite?: string;
                    /** @description The metric that ranks (default accuracy) */
                    rank_by?: string;
                    teams?: {
                        [key: string]: string[];
                    };
                    title?: string;
                    tolerances?: {
                        [key: string]: number;
                    };
                    /**
                     * Format: int64
                     * @description Teams whose packages are run again at the close (default 3)
                     */
                    verify_top?: number;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Competition"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_competitions_competition_board: {
        parameters: {
            query?: {
                /** @description public (default) or hidden */
                split?: string;
            };
            header?: never;
            path: {
                project: string;
                competition: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_competitions_competition_submissions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                competition: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Submission"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_competitions_competition_submissions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                competition: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    algorithm: string;
                    /** @description The results CSV: sample and the competition's columns */
                    csv: string;
                    /** @description public or hidden */
                    split: string;
                    version: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Submission"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_competitions_competition_verdicts: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                competition: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Verdict"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_custom_rules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_custom_rules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CustomRuleCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                custom: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                custom: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_projects_project_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                custom: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CustomRulePatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Dataset"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description DNS label */
                    name: string;
                    /** @description Absolute folder on the server, under a root of the workspace */
                    path: string;
                    /** @enum {string} */
                    security_level: "open" | "internal" | "secret";
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_datasets_dataset_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_archive: {
        parameters: {
            query?: {
                /** @description open, internal (default) or secret */
                security_level?: string;
            };
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_conversions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Conversion"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_curation_defaults: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CurationDefaults"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_projects_project_datasets_dataset_curation_defaults: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Also score BRISQUE (slower) */
                    brisque?: boolean;
                    /** @description Overexposed over this mean grey level (215) */
                    max_brightness?: number;
                    /** @description Poor over this BRISQUE score (60) */
                    max_brisque?: number;
                    /** @description Dark under this mean grey level (40) */
                    min_brightness?: number;
                    /**
                     * Format: int64
                     * @description Small under this height (64)
                     */
                    min_height?: number;
                    /** @description Blurry under this variance of the Laplacian (20) */
                    min_sharpness?: number;
                    /**
                     * Format: int64
                     * @description Small under this width (64)
                     */
                    min_width?: number;
                    /**
                     * Format: int64
                     * @description Near-duplicate radius in bits, 0-32 (default 10)
                     */
                    radius?: number;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CurationDefaults"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_curations: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Curation"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_curations_curation_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                curation: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Curation"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_curations_curation_apply: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                curation: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetVersion"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_curations_curation_decisions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                curation: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    decisions: Record<string, never>;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Curation"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_curations_curation_proposals: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                curation: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Proposal"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_files: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["DatasetFile"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_files_path_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_label_tasks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    annotators: string[];
                    /**
                     * Format: int64
                     * @description Images a job (default 50)
                     */
                    job_size?: number;
                    /** @description A lower-case name, unique in the project */
                    name: string;
                    reviewers: string[];
                    spec: {
                        attributes?: {
                            name: string;
                            values: string[];
                        }[];
                        classes: string[];
                        shapes?: ("box" | "polygon")[];
                    };
                    /**
                     * Format: int64
                     * @description The version to label (default: the newest)
                     */
                    version?: number;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LabelTask"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_lifecycle: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LifecyclePolicy"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_projects_project_datasets_dataset_lifecycle: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Apply once a day without a person */
                    automatic?: boolean;
                    rules: {
                        /** @description keep, archive or delete */
                        action: string;
                        /**
                         * Format: int64
                         * @description Only what is at least this many days old (default 0)
                         */
                        after_days?: number;
                        /**
                         * Format: int64
                         * @description Never the newest this many versions (a version rule)
                         */
                        keep_newest?: number;
                        /** @description Files in this split (a file rule) */
                        split?: string;
                        /** @description Files with this tag (a file rule) */
                        tag?: string;
                        /**
                         * Format: int64
                         * @description Only this version (a version rule)
                         */
                        version?: number;
                    }[];
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LifecyclePolicy"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_lifecycle_apply: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LifecyclePlan"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_lifecycle_plan: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LifecyclePlan"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_upload: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Upload"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_versions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["DatasetVersion"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_versions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description What this version is */
                    message?: string;
                    /** @description Split name -> share of the new files (summing to 1), drawn from each path; default: by the top folder (train, val, test), else train */
                    splits?: Record<string, never>;
                    /** @description Tag each new file with its top folder's name */
                    tag_by_folder?: boolean;
                    tags?: string[];
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetVersion"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_versions_number_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetVersion"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_datasets_dataset_versions_number_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_versions_number_archive: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetVersion"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_versions_number_changes: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Path -> tags to add */
                    add_tags?: Record<string, never>;
                    message?: string;
                    remove?: string[];
                    /** @description Path -> tags to remove */
                    remove_tags?: Record<string, never>;
                    /** @description Path -> its new split */
                    splits?: Record<string, never>;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetVersion"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_versions_number_conversions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @enum {string} */
                    from: "coco" | "voc" | "yolo" | "json";
                    /** @description From YOLO: the images' folder (default INPUT/images) */
                    images?: string;
                    /** @description In the version: the COCO .json file, or the folder of the others */
                    input: string;
                    message?: string;
                    /** @description The new version's folder for the result (default labels/TO) */
                    output?: string;
                    /** @enum {string} */
                    to: "coco" | "voc" | "yolo" | "json";
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Conversion"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_versions_number_curations: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Also score BRISQUE (slower) */
                    brisque?: boolean;
                    /** @description Overexposed over this mean grey level (215) */
                    max_brightness?: number;
                    /** @description Poor over this BRISQUE score (60) */
                    max_brisque?: number;
                    /** @description Dark under this mean grey level (40) */
                    min_brightness?: number;
                    /**
                     * Format: int64
                     * @description Small under this height (64)
                     */
                    min_height?: number;
                    /** @description Blurry under this variance of the Laplacian (20) */
                    min_sharpness?: number;
                    /**
                     * Format: int64
                     * @description Small under this width (64)
                     */
                    min_width?: number;
                    /**
                     * Format: int64
                     * @description Near-duplicate radius in bits, 0-32 (default 10)
                     */
                    radius?: number;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Curation"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_versions_number_files: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["VersionFile"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_datasets_dataset_versions_number_files_path_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_datasets_dataset_versions_number_restore: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                dataset: string;
                number: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetVersion"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_evaluations: {
        parameters: {
            query?: {
                /** @description Only this suite's */
                suite?: string;
                /** @description Only this algorithm's */
                algorithm?: string;
                /** @description queued, running, scoring, passed, failed, error or cancelled */
                state?: string;
                /** @description true: only yours */
                mine?: boolean;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Evaluation"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_evaluations: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    algorithm: string;
                    /** @description Over the package's default config */
                    config?: Record<string, never>;
                    /** @description The job's: gpus (below 1: a share), cpu, memory_mib; default 1 CPU, 4096 MiB, no GPU */
                    resources?: Record<string, never>;
                    suite: string;
                    /**
                     * Format: int64
                     * @description Default the latest
                     */
                    suite_version?: number;
                    /** @description The algorithm's version */
                    version: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Evaluation"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_evaluations_evaluation_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                evaluation: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Evaluation"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_evaluations_evaluation_cancel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                evaluation: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_evaluations_evaluation_files_file_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                evaluation: string;
                file: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_evaluations_evaluation_report: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                evaluation: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_events: {
        parameters: {
            query?: {
                /** @description Only events after this seq; "latest": after the newest (only new ones) */
                after?: string;
                /** @description The last N events (1 to 1000), oldest first; no paging */
                tail?: number;
                /** @description true: stream as Server-Sent Events */
                stream?: boolean;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Event"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_inhibitions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Inhibition"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_inhibitions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["InhibitionCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Inhibition"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_inhibitions_inhibition_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                inhibition: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_job_settings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobSettings"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_projects_project_job_settings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    allow_egress?: boolean;
                    devenv_gpu_idle_percent?: number;
                    devenv_idle_s?: number;
                    /** @description A job queued this long gets a QueuedTooLong event (0: never) */
                    queued_alert_s?: number;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobSettings"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description If-Match does not match the current version */
            412: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs: {
        parameters: {
            query?: {
                /** @description Only jobs in this state */
                state?: string;
                /** @description train, eval or devenv */
                kind?: string;
                /** @description Only this user's jobs */
                user?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Job"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_jobs: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["JobRequest"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_jobs_id_cancel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_events: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["JobEvent"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_logs: {
        parameters: {
            query?: {
                /** @description An earlier attempt */
                attempt?: number;
                /** @description text (default) or json */
                format?: string;
                /** @description The first sequence number */
                from?: number;
                /** @description At most this many lines */
                limit?: number;
                /** @description The last N lines */
                tail?: number;
                /** @description Lines from this time (RFC 3339) */
                since?: string;
                /** @description Lines until this time (RFC 3339) */
                until?: string;
                /** @description stdout or stderr */
                stream?: string;
                /** @description Lines containing this text */
                q?: string;
                /** @description Lines matching this RE2 expression */
                regex?: string;
                /** @description true: Server-Sent Events until the run ends */
                follow?: boolean;
            };
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_logs_download: {
        parameters: {
            query?: {
                /** @description An earlier attempt */
                attempt?: number;
            };
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_logs_raw: {
        parameters: {
            query?: {
                /** @description An earlier attempt */
                attempt?: number;
            };
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_logs_stats: {
        parameters: {
            query?: {
                /** @description An earlier attempt */
                attempt?: number;
            };
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_outputs: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobOutputs"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_outputs_files: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["OutputFile"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_outputs_files_path_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                id: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_jobs_id_outputs_release: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description What the files are and why they should leave (shown to the reviewer) */
                    reason: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Release"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_jobs_id_resources: {
        parameters: {
            query?: {
                /** @description How far back from end: a duration (default 1h) */
                range?: string;
                /** @description The end, RFC 3339 (default now) */
                end?: string;
                /** @description Seconds between points: a duration (default range / 240, at least 1s) */
                step?: string;
                /** @description Within each step: avg (default), min or max */
                agg?: string;
            };
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description why the series are per minute and rounded, when they are */
                        coarse?: string;
                        /** Format: date-time */
                        end: string;
                        gpu_limits?: {
                            /**
                             * Format: int64
                             * @description its share of each GPU's cores
                             */
                            cores_percent: number;
                            /** Format: int64 */
                            gpus?: number;
                            /**
                             * Format: int64
                             * @description what the job may allocate on each GPU
                             */
                            memory_mib?: number;
                            share: boolean;
                        };
                        metric?: string;
                        series: {
                            labels: Record<string, never>;
                            metric?: string;
                            points: number[][];
                        }[];
                        /**
                         * @description where the series come from
                         * @enum {string}
                         */
                        source?: "embedded" | "prometheus";
                        /** Format: date-time */
                        start: string;
                        /** Format: int64 */
                        step_s: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_jobs_id_retry: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_label_tasks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["LabelTask"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_label_tasks_task_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LabelTask"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_label_tasks_task_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_label_tasks_task_export: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * @description default coco
                     * @enum {string}
                     */
                    format?: "coco" | "image-json";
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetVersion"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_label_tasks_task_jobs: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["LabelJob"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_label_tasks_task_jobs_label_job_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
                label_job: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LabelJobDetail"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_projects_project_label_tasks_task_jobs_label_job_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
                label_job: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    annotator?: string;
                    reviewer?: string;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LabelJob"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_label_tasks_task_jobs_label_job_images_path_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
                label_job: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_projects_project_label_tasks_task_jobs_label_job_images_path_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
                label_job: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** Format: int64 */
                    height: number;
                    shapes: Record<string, never>[];
                    /** Format: int64 */
                    width: number;
                };
            };
        };
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_label_tasks_task_jobs_label_job_review: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
                label_job: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @enum {string} */
                    decision: "accept" | "rework";
                    /** @description What to fix (needed to send it back) */
                    note?: string;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LabelJob"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_label_tasks_task_jobs_label_job_submit: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
                label_job: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LabelJob"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_label_tasks_task_pre_annotations: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["PreAnnotation"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_label_tasks_task_pre_annotations: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description An uploaded algorithm's name */
                    algorithm: string;
                    /** @description The algorithm's object names -> the task's classes (a name that is a class needs none) */
                    classes?: Record<string, never>;
                    /**
                     * @description Which part of the output (default model_data)
                     * @enum {string}
                     */
                    from?: "model_data" | "algorithm_data";
                    /**
                     * Format: int64
                     * @description GPUs for the job (0)
                     */
                    gpus?: number;
                    /** @description Objects under this confidence are left out (0.5) */
                    min_confidence?: number;
                    version: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PreAnnotation"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_label_tasks_task_statistics: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                task: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_label_work: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["LabelWork"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_listings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Listing"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_listings_algorithm_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                algorithm: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Listing"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_projects_project_listings_algorithm_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                algorithm: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    customers?: string[];
                    /** @description Markdown */
                    description?: string;
                    /** @description {inputs: [...], hardware: {gpu_memory_mib, fps}, tags} */
                    details?: Record<string, never>;
                    tiers?: {
                        /**
                         * Format: int64
                         * @description Video channels at once; 0: unlimited
                         */
                        channels?: number;
                        name: string;
                        /** @description As the seller writes it */
                        price?: string;
                        /** @description Frames a second over all; 0: unlimited */
                        qps?: number;
                        /**
                         * Format: int64
                         * @description How long an order lasts (default 365)
                         */
                        term_days?: number;
                    }[];
                    title?: string;
                    /** @enum {string} */
                    visibility?: "public" | "workspace" | "customers";
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Listing"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_listings_algorithm_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                algorithm: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_listings_algorithm_versions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                algorithm: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    evaluations?: string[];
                    /** @description Release notes */
                    notes?: string;
                    version: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Listing"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_log_policies: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["LogPolicyEntry"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_log_policies_level_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                level: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LogPolicyEntry"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_projects_project_log_policies_level_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                level: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LogPolicy"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LogPolicyEntry"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description If-Match does not match the current version */
            412: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_log_policies_level_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                level: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_logs_search: {
        parameters: {
            query?: {
                /** @description A substring */
                q?: string;
                /** @description An RE2 expression */
                regex?: string;
                /** @description At most this many lines */
                limit?: number;
                /** @description At most this many jobs */
                jobs?: number;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_members: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Member"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_members: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description A role of this scope, see /api/v1/roles */
                    role: string;
                    username: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Member"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_members_username_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_notifications: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Notification"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_orders: {
        parameters: {
            query?: {
                /** @description One listing's */
                listing?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Order"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_orders: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @enum {string} */
                    codes_per?: "seat" | "order";
                    customer: string;
                    /** @description The algorithm's name */
                    listing: string;
                    /** Format: int64 */
                    seats: number;
                    tier: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Order"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_orders_order_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                order: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Order"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_permissions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        permissions?: string[];
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_prometheus_rules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_quota: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Quota"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_projects_project_quota: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["Quota"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Quota"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description If-Match does not match the current version */
            412: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_receivers: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Receiver"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_receivers: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReceiverCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_projects_project_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                receiver: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReceiverPatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_receivers_receiver_test: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReceiverTest"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_releases: {
        parameters: {
            query?: {
                /** @description pending, approved, refused or superseded */
                state?: string;
                /** @description Only requests for this job */
                job?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Release"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_releases_release_approve: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                release: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Shown to the requester */
                    comment?: string;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Release"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_releases_release_refuse: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                release: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Shown to the requester */
                    comment?: string;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Release"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_resources: {
        parameters: {
            query?: {
                /** @description How far back from end: a duration (default 1h) */
                range?: string;
                /** @description The end, RFC 3339 (default now) */
                end?: string;
                /** @description Seconds between points: a duration (default range / 240, at least 1s) */
                step?: string;
                /** @description Within each step: avg (default), min or max */
                agg?: string;
                /** @description user (default) or job */
                by?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description why the series are per minute and rounded, when they are */
                        coarse?: string;
                        /** Format: date-time */
                        end: string;
                        metric?: string;
                        series: {
                            labels: Record<string, never>;
                            metric?: string;
                            points: number[][];
                        }[];
                        /**
                         * @description where the series come from
                         * @enum {string}
                         */
                        source?: "embedded" | "prometheus";
                        /** Format: date-time */
                        start: string;
                        /** Format: int64 */
                        step_s: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_runs: {
        parameters: {
            query?: {
                /** @description Only the runs of this job (job_...) */
                job?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["TrainingRun"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_runs: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    config?: Record<string, never>;
                    /** @description 1 to 100 letters, digits, '.', '_' or '-'; default run-N */
                    name?: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingRun"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_runs_run_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                run: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingRun"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_runs_run_records: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                run: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    records: Record<string, never>[];
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * Format: int64
                         * @description Points stored
                         */
                        points: number;
                        /**
                         * Format: int64
                         * @description The run's tags
                         */
                        tags: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_runs_run_series: {
        parameters: {
            query?: {
                /** @description The tag (such as train/loss) */
                tag?: string;
                /** @description The x axis: step (default), wall (seconds since the epoch), relative (seconds since the series' first point), or tag:NAME (another tag's value as of each step) */
                x?: string;
                /** @description The start of the range on the x axis (default: the first point) */
                from?: string;
                /** @description The end of the range on the x axis, included (default: the last point) */
                to?: string;
                /** @description At most this many points, 2 to 100000 (default 1000): more are reduced by min/max-preserving LTTB */
                points?: number;
                /** @description true: POINTS buckets of equal width over [from, to] instead, each the mean, least and greatest value (the same x positions for every run given the same range) */
                grid?: string;
                /** @description 0 to below 1: each point also carries `smoothed`, the debiased moving average at it over the whole series (TensorBoard's smoothing; the same whatever the range or points) */
                smoothing?: number;
            };
            header?: never;
            path: {
                project: string;
                run: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Series"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_runs_run_tensorboard: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                run: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_series: {
        parameters: {
            query?: {
                /** @description The tag (such as train/loss) */
                tag?: string;
                /** @description The x axis: step (default), wall (seconds since the epoch), relative (seconds since the series' first point), or tag:NAME (another tag's value as of each step) */
                x?: string;
                /** @description The start of the range on the x axis (default: the first point) */
                from?: string;
                /** @description The end of the range on the x axis, included (default: the last point) */
                to?: string;
                /** @description At most this many points, 2 to 100000 (default 1000): more are reduced by min/max-preserving LTTB */
                points?: number;
                /** @description true: POINTS buckets of equal width over [from, to] instead, each the mean, least and greatest value (the same x positions for every run given the same range) */
                grid?: string;
                /** @description 0 to below 1: each point also carries `smoothed`, the debiased moving average at it over the whole series (TensorBoard's smoothing; the same whatever the range or points) */
                smoothing?: number;
                /** @description The runs, comma-separated (at most 50) */
                runs?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        series: components["schemas"]["Series"][];
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_silences: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Silence"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_silences: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SilenceCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Silence"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_silences_silence_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                silence: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_store_offline_activations: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The request file's text */
                    request: string;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Activation"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_store_publisher: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_projects_project_store_publisher: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    signing_key?: Record<string, never>;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_suites: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Suite"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_suites: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    annotations?: {
                        /** @description The file's text */
                        content: string;
                        /** @description truth.jsonl, instances.json, ... */
                        file: string;
                    };
                    /** @description The samples: a dataset of the project (required to create) */
                    dataset?: string;
                    description?: string;
                    /** @description Video: frames analysed a second */
                    fps?: number;
                    /**
                     * Format: int64
                     * @description Per frame (default 10)
                     */
                    frame_timeout_s?: number;
                    /** @description A folder, image or video inside the dataset; default the whole dataset */
                    input?: string;
                    /** Format: int64 */
                    max_frames?: number;
                    /** @description 1 to 64 of a-z, 0-9, '_', '-' (create only) */
                    name?: string;
                    /**
                     * Format: int64
                     * @description The evaluation job's (default 3600)
                     */
                    runtime_limit_s?: number;
                    /** @description The evaluation template, YAML or JSON (docs/TEMPLATES.md) */
                    template?: string;
                    thresholds?: string[];
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Suite"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_suites_suite_: {
        parameters: {
            query?: {
                /** @description A version (default the latest) */
                version?: number;
            };
            header?: never;
            path: {
                project: string;
                suite: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Suite"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_suites_suite_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                suite: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_projects_project_suites_suite_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                suite: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    annotations?: {
                        /** @description The file's text */
                        content: string;
                        /** @description truth.jsonl, instances.json, ... */
                        file: string;
                    };
                    /** @description The samples: a dataset of the project (required to create) */
                    dataset?: string;
                    description?: string;
                    /** @description Video: frames analysed a second */
                    fps?: number;
                    /**
                     * Format: int64
                     * @description Per frame (default 10)
                     */
                    frame_timeout_s?: number;
                    /** @description A folder, image or video inside the dataset; default the whole dataset */
                    input?: string;
                    /** Format: int64 */
                    max_frames?: number;
                    /** @description 1 to 64 of a-z, 0-9, '_', '-' (create only) */
                    name?: string;
                    /**
                     * Format: int64
                     * @description The evaluation job's (default 3600)
                     */
                    runtime_limit_s?: number;
                    /** @description The evaluation template, YAML or JSON (docs/TEMPLATES.md) */
                    template?: string;
                    thresholds?: string[];
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Suite"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_suites_suite_versions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                suite: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Suite"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_projects_project_uploads: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The dataset it becomes */
                    dataset: string;
                    /** @description open, internal (default) or secret */
                    security_level?: string;
                    size: number;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Upload"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_projects_project_uploads_upload_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                upload: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Upload"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_projects_project_uploads_upload_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                upload: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_projects_project_uploads_upload_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                upload: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        dataset?: components["schemas"]["Dataset"];
                        /** Format: int64 */
                        offset: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_roles: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Role"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_roles: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    permissions: string[];
                    /** @description workspace or project */
                    scope: string;
                    /** @description The workspace it is made in (needed unless a platform admin) */
                    workspace?: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Role"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_roles_role_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                role: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_scheduler: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SchedulerView"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_scheduler_cluster: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        yaml?: string;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_scheduler_simulate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Cluster YAML (docs/SCHEDULING.md); default: the current cluster, as GET /api/v1/scheduler/cluster gives it */
                    cluster?: string;
                    /** @description A trace (CSV) or a generator (YAML); the simulation ends at the last submission */
                    workload: string;
                    /** @enum {string} */
                    workload_format: "csv" | "yaml";
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SimulationReport"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_settings: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Setting"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_settings_key_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                key: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Setting"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_api_v1_settings_key_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                key: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Any JSON value */
                    value: unknown;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Setting"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description If-Match does not match the current version */
            412: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_settings_key_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                key: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_store_downloads_download_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                download: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_store_listings: {
        parameters: {
            query?: {
                /** @description Words to find */
                q?: string;
                /** @description A tag */
                tag?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Listing"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_store_listings_project_algorithm_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
                algorithm: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Listing"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_store_usage: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    code: string;
                    fingerprint: string;
                    /** @description The licence id */
                    licence: string;
                    reports: {
                        algorithm?: string;
                        /** Format: int64 */
                        channels?: number;
                        /** Format: int64 */
                        frames?: number;
                        from?: string;
                        /** @description The client's id of the report */
                        id?: string;
                        to?: string;
                    }[];
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * Format: int64
                         * @description New reports kept
                         */
                        stored?: number;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_tokens: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Token"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_tokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    expires_in_s?: number;
                    name: string;
                    /** @description Limit the token to this project */
                    project?: string | null;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NewToken"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_tokens_token_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                token: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_usage: {
        parameters: {
            query?: {
                /** @description The first day (2026-12-01) or time; default 30 days before to */
                from?: string;
                /** @description The day after the last (exclusive) or a time; default tomorrow */
                to?: string;
                /** @description Comma-separated: job, user, project (default), workspace, day, pool */
                by?: string;
                /** @description Only this project */
                project?: string;
                /** @description Only this workspace's projects */
                workspace?: string;
                /** @description Only this user's jobs */
                user?: string;
                /** @description json (default) or csv */
                format?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        by: string[];
                        currency?: string;
                        /** Format: date-time */
                        from: string;
                        rows: Record<string, never>[];
                        /** Format: date-time */
                        to: string;
                        total: Record<string, never>;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_users: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["User"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_users: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    display_name?: string;
                    email?: string;
                    /** @description At least 12 characters */
                    password: string;
                    platform_role?: string;
                    username: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_users_username_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_users_username_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    disabled?: boolean;
                    display_name?: string;
                    email?: string;
                    /** @description platform-admin or platform-regular */
                    platform_role?: string;
                };
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_users_username_events: {
        parameters: {
            query?: {
                /** @description Only events after this seq */
                after?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Event"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_users_username_password: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Needed for your own */
                    current_password?: string;
                    /** @description At least 12 characters */
                    new_password: string;
                };
            };
        };
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Well-formed, but refused by a rule */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_users_username_unlock: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_version: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        name?: string;
                        revision?: string;
                        /** @description sqlite or postgres */
                        store?: string;
                        version?: string;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Workspace"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    description?: string;
                    name: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Workspace"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Workspace"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_workspaces_workspace_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_alert_preview: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertPreviewRequest"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertPreview"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_alert_rules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertRule"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_workspaces_workspace_alert_rules_rule_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                rule: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertRulePatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_alerts: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ActiveAlert"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_audit: {
        parameters: {
            query?: {
                /** @description Only this user's records */
                user?: string;
                /** @description create, update, delete, login, login_failed, logout, ... */
                verb?: string;
                /** @description A resource type */
                resource?: string;
                /** @description Only this project's records */
                project?: string;
                /** @description Only answers with this HTTP status (403, say) */
                status?: number;
                /** @description Only requests from this address */
                source?: string;
                /** @description From this time (RFC 3339) */
                since?: string;
                /** @description Before this time (RFC 3339) */
                until?: string;
                /** @description jsonl: JSON lines, with X-Next-Page-Token */
                format?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["AuditRecord"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_custom_rules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_custom_rules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CustomRuleCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                custom: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_workspaces_workspace_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                custom: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_workspaces_workspace_custom_rules_custom_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                custom: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CustomRulePatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CustomRule"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_dataset_roots: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["DatasetRoot"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_dataset_roots: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Absolute folder, not overlapping another workspace's root */
                    path: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetRoot"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_workspaces_workspace_dataset_roots: {
        parameters: {
            query?: {
                /** @description The root to remove */
                path?: string;
            };
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_events: {
        parameters: {
            query?: {
                /** @description Only events after this seq */
                after?: string;
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Event"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_inhibitions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Inhibition"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_inhibitions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["InhibitionCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Inhibition"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_workspaces_workspace_inhibitions_inhibition_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                inhibition: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_members: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Member"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_members: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description A role of this scope, see /api/v1/roles */
                    role: string;
                    username: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Member"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_workspaces_workspace_members_username_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_notifications: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Notification"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_permissions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        permissions?: string[];
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_projects: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Project"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_projects: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    description?: string;
                    name: string;
                };
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_prometheus_rules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_receivers: {
        parameters: {
            query?: {
                /** @description Items per page, 1 to 1000 (default 100) */
                page_size?: number;
                /** @description next_page_token of the previous page */
                page_token?: string;
            };
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Receiver"][];
                        /** @description Pass as page_token for the next page */
                        next_page_token: string | null;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_receivers: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReceiverCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_workspaces_workspace_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_api_v1_workspaces_workspace_receivers_receiver_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                receiver: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReceiverPatch"];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Receiver"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_receivers_receiver_test: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                receiver: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReceiverTest"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_api_v1_workspaces_workspace_silences: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Silence"][];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v1_workspaces_workspace_silences: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SilenceCreate"];
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Silence"];
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_api_v1_workspaces_workspace_silences_silence_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                workspace: string;
                silence: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_api_v2_alerts: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>[];
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_devenvs_id_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    put_devenvs_id_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_devenvs_id_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    delete_devenvs_id_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patch_devenvs_id_: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests or streams; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_git_project_git_receive_pack: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    post_git_project_git_upload_pack: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_git_project_info_refs: {
        parameters: {
            query?: {
                /** @description git-upload-pack (clone, fetch) or git-receive-pack (push: code:push) */
                service?: string;
            };
            header?: never;
            path: {
                project: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller may see the resource but not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such resource (or one of another tenant) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        status?: string;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    get_readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        status?: string;
                        store?: string;
                    };
                };
            };
            /** @description Invalid: a parameter or the body is wrong (the message says which) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not available now; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
