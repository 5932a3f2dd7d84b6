/* CPU time per transaction through libmodsecurity 3 (Debian's libmodsecurity3) with the same
 * rules and requests as crates/portcullis-waf/benches/requests.rs: a GET with a query string
 * and a 1 KB JSON POST, every phase, clean requests.
 *
 *   cc -O2 -o modsec_bench bench/waf/modsec_bench.c -lmodsecurity
 *   ./modsec_bench get|post N RULEFILE...
 */
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *HEADERS[][2] = {
    {"Host", "api.example.com"},
    {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
    {"Accept", "application/json"},
    {"Accept-Language", "en-US,en;q=0.5"},
    {"Accept-Encoding", "gzip, deflate, br"},
    {"Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl"},
    {"Cookie", "session=3fa85f64-5717-4562-b3fc-2c963f66afa6; theme=dark"},
};

static void log_cb(void *data, const void *msg) { (void)data; (void)msg; }

static char *json_body(void) {
    static char body[4096];
    char items[2048] = "";
    for (int i = 0; i < 9; i++) {
        char item[128];
        snprintf(item, sizeof item, "%s{\"sku\":\"ABC-%04d\",\"quantity\":%d,\"price\":%d.5,\"gift\":false}",
                 i ? "," : "", i, i + 1, 10 + i);
        strcat(items, item);
    }
    snprintf(body, sizeof body,
             "{\"customer\":{\"id\":\"3fa85f64-5717-4562-b3fc-2c963f66afa6\",\"email\":\"ann@example.com\",\"name\":\"Ann Example\"},\"currency\":\"EUR\",\"note\":\"Leave at the door, please.\",\"items\":[%s]}",
             items);
    return body;
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s get|post N RULEFILE...\n", argv[0]);
        return 2;
    }
    int post = strcmp(argv[1], "post") == 0;
    long n = atol(argv[2]);
    ModSecurity *msc = msc_init();
    msc_set_log_cb(msc, log_cb);
    RulesSet *rules = msc_create_rules_set();
    const char *error = NULL;
    for (int i = 3; i < argc; i++) {
        if (msc_rules_add_file(rules, argv[i], &error) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], error);
            return 1;
        }
    }
    const char *body = post ? json_body() : "";
    char len[16];
    snprintf(len, sizeof len, "%zu", strlen(body));
    const char *uri = post ? "/api/v1/orders" : "/api/v1/orders?status=shipped&page=2&sort=-created_at&q=blue+shoes";
    int logged = 0;
    double start = 0;
    for (long i = -10; i < n; i++) { /* 10 warm-up transactions */
        if (i == 0) start = cpu_seconds();
        Transaction *tx = msc_new_transaction(msc, rules, NULL);
        msc_process_connection(tx, "192.0.2.10", 40000, "127.0.0.1", 80);
        msc_process_uri(tx, uri, post ? "POST" : "GET", "1.1");
        for (size_t h = 0; h < sizeof HEADERS / sizeof HEADERS[0]; h++)
            msc_add_request_header(tx, (const unsigned char *)HEADERS[h][0], (const unsigned char *)HEADERS[h][1]);
        if (post) {
            msc_add_request_header(tx, (const unsigned char *)"Content-Type", (const unsigned char *)"application/json");
            msc_add_request_header(tx, (const unsigned char *)"Content-Length", (const unsigned char *)len);
        }
        msc_process_request_headers(tx);
        msc_append_request_body(tx, (const unsigned char *)body, strlen(body));
        msc_process_request_body(tx);
        msc_add_response_header(tx, (const unsigned char *)"Content-Type", (const unsigned char *)"application/json");
        msc_process_response_headers(tx, 200, "HTTP 1.1");
        msc_process_logging(tx);
        if (i == n - 1) {
            ModSecurityIntervention it = {200, 0, NULL, NULL, 0};
            logged = msc_intervention(tx, &it);
        }
        msc_transaction_cleanup(tx);
    }
    double per = (cpu_seconds() - start) / n * 1e6;
    printf("%s %.1f us/transaction (CPU, %ld transactions%s)\n", post ? "post" : "get", per, n,
           logged ? ", intervention!" : "");
    msc_rules_cleanup(rules);
    msc_cleanup(msc);
    return 0;
}
