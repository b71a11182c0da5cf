"""Every scenario family by the name `synthesize.families` uses, in a fixed order."""

from stages.synthesis import data_families, dev_families, infra_families, ops_families
from stages.synthesis.episode import Family

FAMILIES: dict[str, Family] = {
    "pytest_failures": dev_families.pytest_failures,
    "docker_build_failure": infra_families.docker_build_failure,
    "git_merge_conflict": dev_families.git_merge_conflict,
    "npm_audit": dev_families.npm_audit,
    "database_migration_error": data_families.database_migration_error,
    "kubernetes_rbac_denied": infra_families.kubernetes_rbac_denied,
    "port_conflict": dev_families.port_conflict,
    "python_version_mismatch": dev_families.python_version_mismatch,
    "cicd_success": ops_families.cicd_success,
    "environment_check": dev_families.environment_check,
    "terraform_plan": infra_families.terraform_plan,
    "redis_connection_error": data_families.redis_connection_error,
    "webpack_slowness": dev_families.webpack_slowness,
    "mysql_laravel_migration": data_families.mysql_laravel_migration,
    "ssl_certificate_renewal": infra_families.ssl_certificate_renewal,
    "elasticsearch_index_operations": data_families.elasticsearch_index_operations,
    "ansible_deploy": infra_families.ansible_deploy,
    "prometheus_alerts": ops_families.prometheus_alerts,
    "apache_bench_load_test": ops_families.apache_bench_load_test,
    "database_backup_verification": data_families.database_backup_verification,
    "go_compile_errors": dev_families.go_compile_errors,
    "nginx_config_test": infra_families.nginx_config_test,
    "aws_cli_deploy": infra_families.aws_cli_deploy,
    "maven_test_failures": dev_families.maven_test_failures,
    "prometheus_queries": ops_families.prometheus_queries,
}
# A merge left half done changes the branch the prompt shows: it goes last in a chain.
LAST_IN_CHAIN = ("git_merge_conflict",)
