/*
 * liandong_sim.c - liandong-sim, the agency traffic simulator.
 *
 * Posts 110/119/120/122 line payloads (gateways/README.md) to a centre's
 * intake endpoints over HTTP/1.1, the way the agencies' own systems would:
 * Poisson arrivals at a given rate (exponential gaps on an absolute
 * schedule), a realistic mix of the four lines, places inside Guangzhou
 * (real district centres, landmarks and roads, WGS84, scattered by a few
 * hundred metres), plausible Chinese descriptions, a unique reference per
 * report (run id + line + counter), a few reports re-sent unchanged (a
 * retry: the centre must answer 200 with the same incident) and a few sent
 * again as a later version (same reference, version + 1). At the end it
 * prints what was sent and what came back, by status.
 *
 * One blocking keep-alive socket, one request in flight: simple, and the
 * sleep between arrivals is clock_nanosleep on CLOCK_MONOTONIC, never a
 * busy wait. When the centre answers slower than the arrival rate, sends
 * fall behind their schedule; the summary shows by how much (run several
 * simulators for more load than one connection carries).
 */
#include <jansson.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NLINES 4
static const char *const line_code[NLINES] = { "110", "119", "120", "122" };

/* --- options and state ------------------------------------------------------ */

struct opts {
	char host[256], port[16], prefix[256];
	double rate;
	long count;       /* 0: until duration */
	double duration;  /* 0: until count */
	double mix[NLINES];
	double retry_p, update_p;
	char *token[NLINES];
	uint64_t seed;
	char run_id[64];
	int verbose, quiet, dry_run;
};

/* What a send was, for the summary. */
enum send_kind { SK_NEW, SK_RETRY, SK_UPDATE, SK_N };
static const char *const kind_name[SK_N] = { "new reports", "retries", "later versions" };

#define MAX_STATUS 600
struct stats {
	long sent, by_line[NLINES];
	long status[SK_N][MAX_STATUS]; /* status 0: no response (connection or protocol error) */
	long by_kind[SK_N];
	double *lat_ms;
	size_t nlat, caplat;
	double max_behind_s;
	long behind; /* sends more than 1 s behind their schedule */
	int errors_shown;
};

/* Earlier reports that may be retried or updated: a ring of their documents. */
#define HISTORY 256
struct history {
	json_t *doc[HISTORY];
	int line[HISTORY];
	int n, next;
};

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("liandong-sim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* --- random numbers ------------------------------------------------------------ */

static uint64_t rng_state;

/* xorshift64*: fast, good enough for traffic, reproducible with --seed. */
static uint64_t
rnd64(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* splitmix64, to turn any seed (even 1, 2, 3) into a well-mixed xorshift state. */
static uint64_t
mix_seed(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x ? x : 88172645463325252ULL;
}

/* Uniform in (0, 1]. */
static double
unif(void)
{
	return ((double)(rnd64() >> 11) + 1.0) / 9007199254740992.0;
}

/* Uniform integer in lo..hi. */
static int
between(int lo, int hi)
{
	return lo + (int)(rnd64() % (uint64_t)(hi - lo + 1));
}

static int
chance(double p)
{
	return unif() <= p;
}

#define PICK(arr) (&(arr)[rnd64() % (sizeof(arr) / sizeof((arr)[0]))])

/* --- the city ------------------------------------------------------------------- */

/* Real places in Guangzhou (WGS84, approximate to ~100 m). */
struct place {
	const char *district, *name;
	double lon, lat;
};

static const struct place places[] = {
	{ "天河区", "天河路天河城", 113.3245, 23.1372 },
	{ "天河区", "珠江新城花城广场", 113.3240, 23.1190 },
	{ "天河区", "岗顶", 113.3360, 23.1360 },
	{ "天河区", "广州东站", 113.3250, 23.1510 },
	{ "天河区", "车陂路", 113.3980, 23.1270 },
	{ "越秀区", "北京路步行街", 113.2697, 23.1257 },
	{ "越秀区", "越秀公园", 113.2650, 23.1390 },
	{ "越秀区", "广州火车站", 113.2577, 23.1496 },
	{ "越秀区", "东山口", 113.2960, 23.1250 },
	{ "海珠区", "江南西路", 113.2701, 23.0967 },
	{ "海珠区", "广州塔", 113.3245, 23.1064 },
	{ "海珠区", "客村", 113.3200, 23.0950 },
	{ "海珠区", "中山大学南校区", 113.2980, 23.0960 },
	{ "荔湾区", "上下九步行街", 113.2450, 23.1200 },
	{ "荔湾区", "芳村大道", 113.2350, 23.0800 },
	{ "白云区", "三元里大道", 113.2620, 23.1600 },
	{ "白云区", "白云山南门", 113.2950, 23.1560 },
	{ "白云区", "京溪", 113.3250, 23.1880 },
	{ "黄埔区", "大沙地", 113.4590, 23.1060 },
	{ "黄埔区", "科学城", 113.4440, 23.1700 },
	{ "番禺区", "市桥街", 113.3640, 22.9380 },
	{ "番禺区", "长隆", 113.3280, 23.0000 },
	{ "花都区", "新华街", 113.2200, 23.4040 },
	{ "南沙区", "蕉门", 113.5250, 22.8010 },
	{ "从化区", "街口街", 113.5860, 23.5480 },
	{ "增城区", "荔城街", 113.8100, 23.2900 },
};

/* Roads for 122; expressways (max_km > 0) carry kilometre posts. */
struct road {
	const char *district, *name, *dir_a, *dir_b;
	double lon, lat;
	int max_km;
};

static const struct road roads[] = {
	{ "天河区", "广州大道中", "北往南", "南往北", 113.3270, 23.1320, 0 },
	{ "天河区", "黄埔大道西", "东往西", "西往东", 113.3300, 23.1250, 0 },
	{ "天河区", "中山大道西", "东往西", "西往东", 113.3500, 23.1250, 0 },
	{ "越秀区", "环市东路", "东往西", "西往东", 113.2950, 23.1380, 0 },
	{ "天河区", "华南快速干线", "北往南", "南往北", 113.3540, 23.1450, 0 },
	{ "白云区", "广园快速路", "东往西", "西往东", 113.3200, 23.1620, 0 },
	{ "白云区", "广州环城高速", "内环", "外环", 113.2350, 23.1650, 40 },
	{ "白云区", "机场高速", "往机场方向", "往市区方向", 113.2900, 23.2500, 25 },
	{ "黄埔区", "广深高速", "往深圳方向", "往广州方向", 113.4300, 23.1150, 30 },
	{ "番禺区", "南沙港快速", "往南沙方向", "往广州方向", 113.4200, 22.9500, 70 },
	{ "花都区", "京港澳高速", "往北方向", "往南方向", 113.2800, 23.3000, 60 },
};

static const char *const callers[] = { "张先生", "李女士", "王先生", "陈女士", "刘先生",
	"黄女士", "林先生", "周女士", "吴先生", "何女士", "梁先生", "郭女士" };

/* Templates: {p} is the place, {n} a number chosen with the template. */
struct t110 {
	const char *category, *subtype, *text;
	int in_progress, weapons, injured;
	double weight;
};

static const struct t110 tpl110[] = {
	{ "criminal", "theft", "报警人称在{p}附近被扒窃手机一部，嫌疑人往地铁站方向离开。", 0, 0, 0, 14 },
	{ "criminal", "robbery", "报警人称在{p}被两名男子抢走挎包，嫌疑人骑电动车逃离。", 1, 0, 0, 3 },
	{ "criminal", "fraud", "报警人称接到自称快递客服的电话，按对方要求转账{n}元后发现被骗。", 0, 0, 0, 10 },
	{ "criminal", "burglary", "报警人回家发现{p}住处门锁被撬，屋内财物被翻动。", 0, 0, 0, 4 },
	{ "public_order", "fight", "{p}一大排档门口有多人打架斗殴，有人手持棍棒。", 1, 1, 1, 3 },
	{ "public_order", "drunk", "{p}有醉酒男子在路边滋扰行人，情绪激动。", 1, 0, 0, 5 },
	{ "dispute", "neighbour", "{p}两户邻居因噪音问题发生争吵，有推搡。", 1, 0, 0, 12 },
	{ "dispute", "consumer", "顾客与{p}一商铺因退款发生纠纷，双方情绪激动。", 0, 0, 0, 8 },
	{ "missing_person", "child", "{n}岁男孩在{p}与家长走散，穿红色上衣、蓝色短裤。", 0, 0, 0, 3 },
	{ "missing_person", "elderly", "{p}一名患有阿尔茨海默病的老人走失，家属正在寻找。", 0, 0, 0, 2 },
	{ "assistance", NULL, "一名老人在{p}迷路，无法说清住址，请求帮助。", 0, 0, 0, 8 },
	{ "assistance", NULL, "报警人被反锁在{p}一单元门外，家中有幼儿独处。", 0, 0, 0, 3 },
	{ "traffic", NULL, "{p}两车刮擦后司机在路中争执，造成拥堵。", 1, 0, 0, 6 },
	{ "fire", NULL, "报警人称看到{p}一栋楼窗口冒出浓烟。", 1, 0, 0, 2 },
	{ "other", NULL, "报警人称楼上住户持续传出异响，疑有人员需要帮助。", 0, 0, 0, 3 },
	{ "mass_incident", NULL, "约{n}名工人聚集在{p}一工地门口讨要欠薪，情绪激动。", 1, 0, 0, 1 },
};

struct t119 {
	const char *fire_type, *building_type, *text, *hazmat;
	int floors_lo, floors_hi, trapped_p100;
	double weight;
};

static const struct t119 tpl119[] = {
	{ "building", "residential", "{p}一住宅楼住户厨房起火，浓烟进入楼道。", NULL, 6, 33, 30, 10 },
	{ "building", "commercial", "{p}商场一商铺冒烟起火，商场正在疏散顾客。", NULL, 4, 8, 10, 3 },
	{ "building", "office", "{p}一写字楼配电房起火，有浓烟。", NULL, 10, 40, 10, 2 },
	{ "building", "hotel", "{p}一酒店客房起火，烟雾报警器报警。", NULL, 8, 25, 15, 1 },
	{ "industrial", "factory", "{p}附近一家具厂仓库起火，火势较大，有浓烟。", NULL, 1, 4, 5, 3 },
	{ "vehicle", NULL, "{p}路边一辆电动汽车冒烟起火。", NULL, 0, 0, 0, 6 },
	{ "vehicle", NULL, "{p}地下车库一辆小车起火。", NULL, 0, 0, 0, 3 },
	{ "forest", NULL, "{p}附近山林起火，火势沿山坡蔓延。", NULL, 0, 0, 0, 1 },
	{ "hazmat", NULL, "{p}一工厂储罐发生化学品泄漏，有刺激性气味。", "盐酸", 0, 0, 0, 1 },
	{ "water_rescue", NULL, "市民发现一人在{p}附近河涌落水，正在呼救。", NULL, 0, 0, 0, 2 },
	{ "rescue", "residential", "{p}一住宅楼电梯困人，电梯停在两层之间。", NULL, 8, 30, 100, 6 },
	{ "flood", NULL, "暴雨导致{p}附近隧道积水约80厘米，有车辆熄火，车内有人。", NULL, 0, 0, 60, 1 },
	{ "other", NULL, "{p}一垃圾桶着火，无人员受伤。", NULL, 0, 0, 0, 4 },
};

struct t120 {
	const char *category, *complaint, *summary;
	int acuity_lo, acuity_hi, age_lo, age_hi, conscious, breathing, patients_hi, n_lo, n_hi;
	double weight;
};

static const struct t120 tpl120[] = {
	{ "chest_pain", "胸痛{n}小时伴大汗", "患者突发胸痛，家属在场。", 1, 2, 45, 85, 1, 1, 1, 1, 6, 10 },
	{ "stroke", "突发口角歪斜、言语不清", "发病约{n}分钟，家属发现后呼救。", 1, 2, 50, 90, 1, 1, 1, 10, 120, 7 },
	{ "cardiac_arrest", "突然倒地，呼之不应，无呼吸", "旁人正在进行心肺复苏。", 1, 1, 40, 85, 0, 0, 1, 0, 0, 2 },
	{ "breathing", "呼吸困难，口唇发紫", "有哮喘病史，自带药物无效。", 1, 2, 5, 85, 1, 1, 1, 0, 0, 6 },
	{ "trauma", "从约{n}米高处坠落，下肢疑似骨折", "意识清醒，不能行走。", 2, 3, 18, 60, 1, 1, 1, 2, 6, 5 },
	{ "traffic_injury", "电动车与小车相撞，头部出血", "伤者坐在路边，意识清楚。", 2, 3, 18, 70, 1, 1, 2, 0, 0, 6 },
	{ "fever", "高热39度，伴咳嗽", "已服退烧药，效果不佳。", 3, 4, 1, 80, 1, 1, 1, 0, 0, 8 },
	{ "obstetric", "孕{n}周，阵痛频繁，羊水已破", "家属陪同，需送产科。", 2, 2, 22, 40, 1, 1, 1, 36, 41, 4 },
	{ "poisoning", "进食后呕吐腹泻", "同桌多人出现类似症状。", 2, 3, 8, 70, 1, 1, 6, 0, 0, 2 },
	{ "illness", "头晕乏力，站立不稳", "有糖尿病史，自测血糖偏低。", 3, 4, 30, 90, 1, 1, 1, 0, 0, 10 },
	{ "psychiatric", "情绪激动，有自伤倾向", "家属在场，需要协助送医。", 2, 3, 16, 60, 1, 1, 1, 0, 0, 2 },
	{ "unconscious", "意识不清，呼之能睁眼", "独居老人，被邻居发现。", 2, 2, 60, 95, 0, 1, 1, 0, 0, 4 },
	{ "burn", "被开水烫伤双下肢", "已用冷水冲洗。", 3, 3, 1, 80, 1, 1, 1, 0, 0, 3 },
};

struct t122 {
	const char *type, *text;
	int vehicles_lo, vehicles_hi, injured_p100, hazmat_p100;
	double weight;
};

static const struct t122 tpl122[] = {
	{ "rear_end", "{p}{n}车追尾，占用车道，车流缓慢。", 2, 4, 25, 1, 14 },
	{ "scrape", "{p}两车刮擦，双方司机在现场等候处理。", 2, 2, 0, 0, 10 },
	{ "collision", "{p}路口两车相撞，车头严重变形。", 2, 2, 45, 1, 6 },
	{ "pedestrian", "{p}一辆小车与横过马路的行人发生碰撞。", 1, 1, 100, 0, 3 },
	{ "single_vehicle", "{p}一辆小车撞上护栏。", 1, 1, 30, 0, 4 },
	{ "rollover", "{p}一辆货车在弯道侧翻，货物散落路面。", 1, 1, 40, 15, 2 },
	{ "vehicle_fire", "{p}一辆小车行驶中发动机舱冒烟起火。", 1, 1, 5, 0, 2 },
	{ "breakdown", "{p}一辆大巴故障停在行车道上。", 1, 1, 0, 0, 5 },
	{ "obstruction", "{p}路面有货车遗撒的碎石，影响通行。", 0, 0, 0, 0, 3 },
};

static const char *const hazmat_loads[] = { "液化石油气", "汽油", "液氨", "柴油" };

/* Pick an index from weights (n entries, stride bytes apart). */
static size_t
weighted(const void *base, size_t n, size_t stride, size_t off)
{
	double total = 0, x;
	for (size_t i = 0; i < n; i++)
		total += *(const double *)((const char *)base + i * stride + off);
	x = unif() * total;
	for (size_t i = 0; i < n; i++) {
		x -= *(const double *)((const char *)base + i * stride + off);
		if (x <= 0)
			return i;
	}
	return n - 1;
}

#define PICK_WEIGHTED(arr, type) \
	(&(arr)[weighted((arr), sizeof(arr) / sizeof((arr)[0]), sizeof(type), offsetof(type, weight))])

/* Replace {p} by place and {n} by number in a template. */
static char *
fill(const char *tpl, const char *place, int number)
{
	size_t cap = strlen(tpl) + (place ? strlen(place) : 0) * 4 + 64, used = 0;
	char *out = malloc(cap);
	if (out == NULL)
		abort();
	for (const char *p = tpl; *p;) {
		if (strncmp(p, "{p}", 3) == 0) {
			used += (size_t)snprintf(out + used, cap - used, "%s", place ? place : "");
			p += 3;
		} else if (strncmp(p, "{n}", 3) == 0) {
			used += (size_t)snprintf(out + used, cap - used, "%d", number);
			p += 3;
		} else {
			out[used++] = *p++;
		}
	}
	out[used] = '\0';
	return out;
}

/* A point near (lon, lat): uniform in a disc of radius_m metres. */
static void
scatter(double lon, double lat, double radius_m, double *olon, double *olat)
{
	double r = radius_m * sqrt(unif()), a = 2 * M_PI * unif();
	double dlat = r * cos(a) / 111320.0, dlon = r * sin(a) / (111320.0 * cos(lat * M_PI / 180));
	/* 1e-6 degree (about 10 cm) is what a GPS fix gives. */
	*olon = round((lon + dlon) * 1e6) / 1e6;
	*olat = round((lat + dlat) * 1e6) / 1e6;
}

/* Local time in Guangzhou (+08:00) as RFC 3339. */
static void
now_rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static void
set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, json_string(v));
}

static void
set_int(json_t *o, const char *k, long v)
{
	json_object_set_new(o, k, json_integer(v));
}

/* The fields every line has: kind, reference, version, time, caller, place. */
static json_t *
common_doc(const struct opts *o, int line, long seq, const char *address, double lon,
    double lat)
{
	char ref[128], when[40], phone[16];
	json_t *d = json_object();
	snprintf(ref, sizeof ref, "%s-%s-%06ld", o->run_id, line_code[line], seq);
	now_rfc3339(when, sizeof when);
	snprintf(phone, sizeof phone, "1%d%09d", between(3, 9), between(0, 999999999));
	char kind[16];
	snprintf(kind, sizeof kind, "%s.jjd", line_code[line]);
	set_str(d, "kind", kind);
	set_str(d, "case_no", ref);
	set_int(d, "version", 0);
	set_str(d, "report_time", when);
	set_str(d, "caller_name", *PICK(callers));
	set_str(d, "caller_phone", phone);
	set_str(d, "address", address);
	double slon, slat;
	scatter(lon, lat, 400, &slon, &slat);
	json_object_set_new(d, "lon", json_real(slon));
	json_object_set_new(d, "lat", json_real(slat));
	return d;
}

static json_t *
gen110(const struct opts *o, long seq)
{
	const struct place *pl = PICK(places);
	const struct t110 *t = PICK_WEIGHTED(tpl110, struct t110);
	char address[256], *summary;
	snprintf(address, sizeof address, "%s%s", pl->district, pl->name);
	int n = strcmp(t->category, "mass_incident") == 0 ? between(15, 60) :
	    strcmp(t->category, "missing_person") == 0 ? between(3, 9) : between(2, 50) * 1000;
	summary = fill(t->text, pl->name, n);
	json_t *d = common_doc(o, 0, seq, address, pl->lon, pl->lat);
	set_str(d, "case_category", t->category);
	if (t->subtype)
		set_str(d, "case_subtype", t->subtype);
	json_object_set_new(d, "in_progress", json_boolean(t->in_progress));
	if (t->weapons)
		json_object_set_new(d, "weapons", json_true());
	if (t->injured && chance(0.5))
		set_int(d, "injured", between(1, 3));
	set_str(d, "summary", summary);
	char unit[128];
	snprintf(unit, sizeof unit, "广州市公安局%s分局", pl->district);
	set_str(d, "unit", unit);
	free(summary);
	return d;
}

static json_t *
gen119(const struct opts *o, long seq)
{
	const struct place *pl = PICK(places);
	const struct t119 *t = PICK_WEIGHTED(tpl119, struct t119);
	char address[256];
	snprintf(address, sizeof address, "%s%s", pl->district, pl->name);
	char *summary = fill(t->text, pl->name, 0);
	json_t *d = common_doc(o, 1, seq, address, pl->lon, pl->lat);
	set_str(d, "fire_type", t->fire_type);
	if (t->building_type)
		set_str(d, "building_type", t->building_type);
	if (t->floors_hi > 0) {
		int floors = between(t->floors_lo, t->floors_hi);
		set_int(d, "floors", floors);
		set_int(d, "fire_floor", between(1, floors));
	}
	if (t->trapped_p100 && chance(t->trapped_p100 / 100.0))
		set_int(d, "trapped", between(1, 5));
	if (t->hazmat)
		set_str(d, "hazmat", t->hazmat);
	set_str(d, "summary", summary);
	free(summary);
	return d;
}

static json_t *
gen120(const struct opts *o, long seq)
{
	const struct place *pl = PICK(places);
	const struct t120 *t = PICK_WEIGHTED(tpl120, struct t120);
	char address[256], meet[256];
	snprintf(address, sizeof address, "%s%s", pl->district, pl->name);
	int n = between(t->n_lo, t->n_hi);
	char *complaint = fill(t->complaint, pl->name, n), *summary = fill(t->summary, pl->name, n);
	json_t *d = common_doc(o, 2, seq, address, pl->lon, pl->lat);
	set_str(d, "complaint_category", t->category);
	set_str(d, "chief_complaint", complaint);
	set_int(d, "acuity", between(t->acuity_lo, t->acuity_hi));
	set_int(d, "patients", t->patients_hi > 1 ? between(1, t->patients_hi) : 1);
	set_int(d, "age", between(t->age_lo, t->age_hi));
	set_str(d, "sex", strcmp(t->category, "obstetric") == 0 || chance(0.5) ? "female" : "male");
	json_object_set_new(d, "conscious", json_boolean(t->conscious));
	json_object_set_new(d, "breathing", json_boolean(t->breathing));
	snprintf(meet, sizeof meet, "%s%s", pl->name, chance(0.5) ? "正门口，有人接应" : "路口");
	set_str(d, "meeting_point", meet);
	set_str(d, "summary", summary);
	free(complaint);
	free(summary);
	return d;
}

static void
plate(char *buf, size_t len)
{
	static const char letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
	static const char *const prefixes[] = { "粤A", "粤A", "粤A", "粤S", "粤B", "湘A", "桂A" };
	char tail[6];
	for (int i = 0; i < 5; i++)
		tail[i] = chance(0.3) ? letters[rnd64() % (sizeof letters - 1)] : (char)('0' + between(0, 9));
	tail[5] = '\0';
	snprintf(buf, len, "%s%s", *PICK(prefixes), tail);
}

static json_t *
gen122(const struct opts *o, long seq)
{
	const struct road *rd = PICK(roads);
	const struct t122 *t = PICK_WEIGHTED(tpl122, struct t122);
	const char *dir = chance(0.5) ? rd->dir_a : rd->dir_b;
	char address[256], where[256];
	int vehicles = between(t->vehicles_lo, t->vehicles_hi);
	snprintf(address, sizeof address, "%s%s%s", rd->district, rd->name, dir);
	snprintf(where, sizeof where, "%s%s", rd->name, dir);
	char *summary = fill(t->text, where, vehicles);
	json_t *d = common_doc(o, 3, seq, address, rd->lon, rd->lat);
	set_str(d, "road", rd->name);
	set_str(d, "direction", dir);
	if (rd->max_km) {
		char km[24];
		snprintf(km, sizeof km, "K%d+%03d", between(1, rd->max_km), between(0, 999));
		set_str(d, "km_post", km);
	}
	set_str(d, "accident_type", t->type);
	set_int(d, "vehicles", vehicles);
	if (vehicles > 0) {
		json_t *plates = json_array();
		for (int i = 0; i < vehicles; i++) {
			char p[32];
			plate(p, sizeof p);
			json_array_append_new(plates, json_string(p));
		}
		json_object_set_new(d, "plates", plates);
	}
	if (t->injured_p100 && chance(t->injured_p100 / 100.0))
		set_int(d, "injured", between(1, 3));
	if (t->hazmat_p100 && chance(t->hazmat_p100 / 100.0))
		set_str(d, "hazardous_load", *PICK(hazmat_loads));
	if (t->vehicles_hi > 0)
		set_int(d, "lanes_blocked", between(1, 2));
	set_str(d, "summary", summary);
	free(summary);
	return d;
}

/* A later version of a report: version + 1, a new time, a follow-up (续报) in the summary. */
static void
make_update(json_t *d, int line)
{
	char when[40];
	json_int_t v = json_integer_value(json_object_get(d, "version"));
	set_int(d, "version", (long)v + 1);
	now_rfc3339(when, sizeof when);
	set_str(d, "report_time", when);
	const char *old = json_string_value(json_object_get(d, "summary"));
	static const char *const notes[NLINES] = { "民警已到场处置。", "消防救援力量已到场，火势得到控制。",
		"患者病情加重，家属催促。", "现场已设置警示标志，车流缓慢。" };
	/* One follow-up note: a later version replaces the previous version's. */
	const char *mark = old ? strstr(old, "【续报】") : NULL;
	int keep = old ? (int)(mark ? (size_t)(mark - old) : strlen(old)) : 0;
	char *s = malloc((size_t)keep + 128);
	if (s == NULL)
		abort();
	sprintf(s, "%.*s【续报】%s", keep, old ? old : "", notes[line]);
	set_str(d, "summary", s);
	free(s);
	if (line == 2) {
		json_int_t a = json_integer_value(json_object_get(d, "acuity"));
		if (a > 1)
			set_int(d, "acuity", (long)a - 1);
	} else if (line == 3) {
		set_int(d, "injured", (long)json_integer_value(json_object_get(d, "injured")) + 1);
	}
}

/* --- HTTP/1.1 over one blocking keep-alive socket ---------------------------------- */

struct conn {
	int fd;
	char buf[65536];
	size_t len;
};

static int
conn_open(struct conn *c, const struct opts *o)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	int rc = getaddrinfo(o->host, o->port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "liandong-sim: %s:%s: %s\n", o->host, o->port, gai_strerror(rc));
		return -1;
	}
	c->fd = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = 30 };
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			c->fd = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	c->len = 0;
	return c->fd >= 0 ? 0 : -1;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read more into the buffer; 0 on EOF, -1 on error or a full buffer. */
static ssize_t
fill_buf(struct conn *c)
{
	if (c->len >= sizeof c->buf - 1)
		return -1;
	for (;;) {
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0) {
			c->len += (size_t)r;
			c->buf[c->len] = '\0';
		}
		return r;
	}
}

/* The value of header name in the header block hdr (NUL-terminated), or NULL. */
static const char *
header(const char *hdr, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	for (const char *p = strstr(hdr, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *h = p + 2;
		if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			size_t k = strcspn(h, "\r\n");
			if (k >= len)
				k = len - 1;
			memcpy(out, h, k);
			out[k] = '\0';
			return out;
		}
	}
	return NULL;
}

/*
 * One request and its response. Returns the HTTP status, or 0 when there
 * was no complete response (then the connection is closed). The response
 * body (NUL-terminated, truncated to the buffer) is copied to body.
 */
static int
http_post(struct conn *c, const struct opts *o, const char *path, const char *token,
    const char *payload, char *body, size_t body_len)
{
	char head[1024];
	int n = snprintf(head, sizeof head,
	    "POST %s%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: liandong-sim\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s"
	    "Connection: keep-alive\r\n\r\n",
	    o->prefix, path, o->host, o->port, strlen(payload), token ? "Authorization: Bearer " : "",
	    token ? token : "", token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof head)
		return 0;
	body[0] = '\0';
	c->len = 0;
	c->buf[0] = '\0';
	if (send_all(c->fd, head, (size_t)n) || send_all(c->fd, payload, strlen(payload)))
		goto broken;
	char *end;
	while ((end = strstr(c->buf, "\r\n\r\n")) == NULL)
		if (fill_buf(c) <= 0)
			goto broken;
	*end = '\0';
	int status = 0;
	if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1)
		goto broken;
	char v[64];
	int close_after = header(c->buf, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0;
	int chunked = header(c->buf, "Transfer-Encoding", v, sizeof v) && strcasestr(v, "chunked");
	long clen = header(c->buf, "Content-Length", v, sizeof v) ? strtol(v, NULL, 10) : -1;
	size_t start = (size_t)(end - c->buf) + 4;
	if (chunked) {
		/* Wait for the last chunk, then decode in place. */
		while (strstr(c->buf + start, "\r\n0\r\n\r\n") == NULL &&
		    strncmp(c->buf + start, "0\r\n\r\n", 5) != 0)
			if (fill_buf(c) <= 0)
				goto broken;
		size_t out = 0, at = start;
		for (;;) {
			long sz = strtol(c->buf + at, NULL, 16);
			char *nl = strstr(c->buf + at, "\r\n");
			if (nl == NULL || sz < 0)
				goto broken;
			at = (size_t)(nl - c->buf) + 2;
			if (sz == 0 || at + (size_t)sz > c->len)
				break;
			size_t k = (size_t)sz < body_len - 1 - out ? (size_t)sz : body_len - 1 - out;
			memcpy(body + out, c->buf + at, k);
			out += k;
			at += (size_t)sz + 2;
		}
		body[out] = '\0';
	} else if (clen >= 0) {
		while (c->len - start < (size_t)clen)
			if (fill_buf(c) <= 0)
				goto broken;
		size_t k = (size_t)clen < body_len - 1 ? (size_t)clen : body_len - 1;
		memcpy(body, c->buf + start, k);
		body[k] = '\0';
	} else {
		/* Neither: the body ends when the server closes. */
		while (fill_buf(c) > 0)
			;
		snprintf(body, body_len, "%s", c->buf + start);
		close_after = 1;
	}
	c->len = 0;
	if (close_after)
		conn_close(c);
	return status;
broken:
	conn_close(c);
	return 0;
}

/* --- the run --------------------------------------------------------------------- */

static double
mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep until the monotonic time t (seconds); returns early when a stop is requested. */
static void
sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - floor(t)) * 1e9) };
	while (!stop_requested && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void
record_latency(struct stats *st, double ms)
{
	if (st->nlat == st->caplat) {
		st->caplat = st->caplat ? st->caplat * 2 : 1024;
		st->lat_ms = realloc(st->lat_ms, st->caplat * sizeof *st->lat_ms);
		if (st->lat_ms == NULL)
			abort();
	}
	st->lat_ms[st->nlat++] = ms;
}

/*
 * Send one document to its line's adapter; reconnect and send again once
 * when a kept-alive connection turned out to be closed (safe: intake is
 * idempotent by (adapter, reference), which is the point of the centre).
 */
static int
post_doc(struct conn *c, const struct opts *o, int line, const char *payload, char *resp,
    size_t resp_len)
{
	char path[64];
	snprintf(path, sizeof path, "/api/v1/intake/line%s", line_code[line]);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && conn_open(c, o) != 0)
			return 0;
		int status = http_post(c, o, path, o->token[line], payload, resp, resp_len);
		if (status)
			return status;
	}
	return 0;
}

static int
pick_line(const struct opts *o)
{
	double total = 0, x;
	for (int i = 0; i < NLINES; i++)
		total += o->mix[i];
	x = unif() * total;
	for (int i = 0; i < NLINES; i++) {
		x -= o->mix[i];
		if (x <= 0 && o->mix[i] > 0)
			return i;
	}
	for (int i = NLINES - 1; i >= 0; i--)
		if (o->mix[i] > 0)
			return i;
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
percentile(const double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)ceil(p * (double)n) - 1;
	return v[i < n ? i : n - 1];
}

static void
print_summary(const struct opts *o, struct stats *st, double elapsed)
{
	long created = 0, again = 0, errors = 0, by_status[MAX_STATUS] = { 0 };
	printf("liandong-sim: run %s against http://%s:%s%s: %ld sent in %.1f s (%.2f/s; asked %.2f/s)\n",
	    o->run_id, o->host, o->port, o->prefix, st->sent, elapsed,
	    elapsed > 0 ? st->sent / elapsed : 0.0, o->rate);
	printf("  by line: 110 %ld, 119 %ld, 120 %ld, 122 %ld\n", st->by_line[0], st->by_line[1],
	    st->by_line[2], st->by_line[3]);
	for (int k = 0; k < SK_N; k++) {
		const char *sep = " ->";
		printf("  %-15s %6ld", kind_name[k], st->by_kind[k]);
		for (int s = 0; s < MAX_STATUS; s++) {
			long n = st->status[k][s];
			if (n == 0)
				continue;
			if (s == 0)
				printf("%s no response: %ld", sep, n);
			else
				printf("%s %d: %ld", sep, s, n);
			sep = ",";
			by_status[s] += n;
		}
		printf("\n");
	}
	for (int s = 0; s < MAX_STATUS; s++) {
		if (s == 201)
			created += by_status[s];
		else if (s == 200)
			again += by_status[s];
		else if (s < 200 || s >= 300)
			errors += by_status[s];
	}
	printf("  201 created %ld, 200 duplicates/updates %ld, errors %ld", created, again, errors);
	const char *sep = " (";
	for (int s = 0; s < MAX_STATUS; s++) {
		if ((s >= 200 && s < 300) || by_status[s] == 0)
			continue;
		if (s == 0)
			printf("%sno response: %ld", sep, by_status[s]);
		else
			printf("%s%d: %ld", sep, s, by_status[s]);
		sep = ", ";
	}
	printf("%s\n", errors ? ")" : "");
	if (st->nlat) {
		qsort(st->lat_ms, st->nlat, sizeof *st->lat_ms, cmp_double);
		printf("  latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
		    percentile(st->lat_ms, st->nlat, 0.5), percentile(st->lat_ms, st->nlat, 0.9),
		    percentile(st->lat_ms, st->nlat, 0.99), st->lat_ms[st->nlat - 1]);
	}
	if (st->behind)
		printf("  %ld sends were more than 1 s behind the Poisson schedule (at most %.1f s): "
		       "the centre answered slower than the rate; run more simulators in parallel\n",
		    st->behind, st->max_behind_s);
}

/* --- options ------------------------------------------------------------------------ */

static void
usage(FILE *f)
{
	fputs("usage: liandong-sim [options]\n"
	      "Posts simulated 110/119/120/122 reports to a Liandong centre (Poisson arrivals).\n"
	      "  --url URL           centre base URL, http only (default http://127.0.0.1:8080)\n"
	      "  --rate R            mean reports per second (default 1)\n"
	      "  --count N           stop after N sends (default 100 when no --duration)\n"
	      "  --duration S        stop after S seconds\n"
	      "  --mix SPEC          line weights (default 110=0.5,119=0.1,120=0.28,122=0.12)\n"
	      "  --retry P           share of sends that repeat an earlier report unchanged (default 0.03)\n"
	      "  --update P          share of sends that are a later version of one (default 0.03)\n"
	      "  --token-110 T, --token-119 T, --token-120 T, --token-122 T\n"
	      "                      bearer token sent as Authorization: Bearer T for that line\n"
	      "  --token-file F      tokens, one a line: 110=T (or line110=T, or \"110 T\"); # comments\n"
	      "  --seed N            random seed (default: time and pid)\n"
	      "  --run-id ID         reference prefix (default sim-<time>-<pid>)\n"
	      "  --dry-run           print the documents (one JSON a line) instead of sending\n"
	      "  -v, --verbose       print each response; -q, --quiet: no progress lines\n"
	      "Exit status: 0 every send answered 2xx, 1 some were not, 2 usage error.\n",
	    f);
}

static int
line_index(const char *s, size_t n)
{
	if (n > 4 && strncmp(s, "line", 4) == 0) {
		s += 4;
		n -= 4;
	}
	for (int i = 0; i < NLINES; i++)
		if (n == 3 && strncmp(s, line_code[i], 3) == 0)
			return i;
	return -1;
}

static void
parse_mix(struct opts *o, const char *spec)
{
	double sum = 0;
	for (int i = 0; i < NLINES; i++)
		o->mix[i] = 0;
	char *copy = strdup(spec), *save = NULL;
	if (copy == NULL)
		abort();
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *end;
		int li = eq ? line_index(item, (size_t)(eq - item)) : -1;
		if (li < 0)
			die("--mix: '%s' is not LINE=WEIGHT with LINE one of 110 119 120 122", item);
		double w = strtod(eq + 1, &end);
		if (*end != '\0' || !(w >= 0) || !isfinite(w))
			die("--mix: weight '%s' is not a number >= 0", eq + 1);
		o->mix[li] = w;
		sum += w;
	}
	free(copy);
	if (!(sum > 0))
		die("--mix: the weights add up to nothing");
}

static void
set_token(struct opts *o, int li, const char *t)
{
	for (const char *p = t; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			die("the token for %s contains a space or control character", line_code[li]);
	free(o->token[li]);
	o->token[li] = strdup(t);
}

static void
read_token_file(struct opts *o, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int lineno = 0;
	if (f == NULL)
		die("--token-file %s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n")] = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		size_t k = strcspn(p, "= \t");
		int li = line_index(p, k);
		char *t = p + k;
		t += strspn(t, "= \t");
		if (li < 0 || *t == '\0')
			die("%s:%d: expected LINE=TOKEN with LINE one of 110 119 120 122", path, lineno);
		t[strcspn(t, " \t")] = '\0';
		set_token(o, li, t);
	}
	fclose(f);
}

static void
parse_url(struct opts *o, const char *url)
{
	if (strncmp(url, "http://", 7) != 0)
		die("--url: only http:// is supported (put a TLS proxy in front for https)");
	const char *h = url + 7, *slash = strchr(h, '/');
	size_t hlen = slash ? (size_t)(slash - h) : strlen(h);
	char hostport[sizeof o->host];
	if (hlen == 0 || hlen >= sizeof hostport)
		die("--url: no host in '%s'", url);
	memcpy(hostport, h, hlen);
	hostport[hlen] = '\0';
	char *colon;
	if (hostport[0] == '[') { /* [::1]:8080 */
		char *rb = strchr(hostport, ']');
		if (rb == NULL)
			die("--url: bad IPv6 address in '%s'", url);
		*rb = '\0';
		snprintf(o->host, sizeof o->host, "%s", hostport + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strrchr(hostport, ':');
		if (colon)
			*colon = '\0';
		snprintf(o->host, sizeof o->host, "%s", hostport);
	}
	snprintf(o->port, sizeof o->port, "%s", colon ? colon + 1 : "80");
	snprintf(o->prefix, sizeof o->prefix, "%s", slash ? slash : "");
	size_t pl = strlen(o->prefix);
	while (pl > 0 && o->prefix[pl - 1] == '/')
		o->prefix[--pl] = '\0';
}

static double
number_arg(const char *name, const char *v, double min)
{
	char *end;
	double d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || !isfinite(d) || d < min)
		die("%s: '%s' is not a number >= %g", name, v, min);
	return d;
}

static void
parse_args(struct opts *o, int argc, char **argv)
{
	enum { O_URL = 256, O_RATE, O_COUNT, O_DURATION, O_MIX, O_RETRY, O_UPDATE, O_T110, O_T119,
		O_T120, O_T122, O_TFILE, O_SEED, O_RUN, O_DRY };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "rate", required_argument, NULL, O_RATE },
		{ "count", required_argument, NULL, O_COUNT },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "mix", required_argument, NULL, O_MIX },
		{ "retry", required_argument, NULL, O_RETRY },
		{ "update", required_argument, NULL, O_UPDATE },
		{ "token-110", required_argument, NULL, O_T110 },
		{ "token-119", required_argument, NULL, O_T119 },
		{ "token-120", required_argument, NULL, O_T120 },
		{ "token-122", required_argument, NULL, O_T122 },
		{ "token-file", required_argument, NULL, O_TFILE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "run-id", required_argument, NULL, O_RUN },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, have_seed = 0;
	parse_url(o, "http://127.0.0.1:8080");
	o->rate = 1;
	parse_mix(o, "110=0.5,119=0.1,120=0.28,122=0.12");
	o->retry_p = 0.03;
	o->update_p = 0.03;
	while ((c = getopt_long(argc, argv, "vqh", longopts, NULL)) != -1) {
		switch (c) {
		case O_URL: parse_url(o, optarg); break;
		case O_RATE: o->rate = number_arg("--rate", optarg, 1e-6); break;
		case O_COUNT: o->count = (long)number_arg("--count", optarg, 1); break;
		case O_DURATION: o->duration = number_arg("--duration", optarg, 1e-3); break;
		case O_MIX: parse_mix(o, optarg); break;
		case O_RETRY: o->retry_p = number_arg("--retry", optarg, 0); break;
		case O_UPDATE: o->update_p = number_arg("--update", optarg, 0); break;
		case O_T110: case O_T119: case O_T120: case O_T122: set_token(o, c - O_T110, optarg); break;
		case O_TFILE: read_token_file(o, optarg); break;
		case O_SEED: o->seed = strtoull(optarg, NULL, 0); have_seed = 1; break;
		case O_RUN:
			if (strlen(optarg) > 40 || strspn(optarg, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != strlen(optarg) || !*optarg)
				die("--run-id: 1-40 of letters, digits and . _ : -");
			snprintf(o->run_id, sizeof o->run_id, "%s", optarg);
			break;
		case O_DRY: o->dry_run = 1; break;
		case 'v': o->verbose = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (o->retry_p + o->update_p > 0.5)
		die("--retry and --update together must be at most 0.5");
	if (o->count == 0 && o->duration == 0)
		o->count = 100;
	if (!have_seed)
		o->seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 32;
	if (o->run_id[0] == '\0')
		snprintf(o->run_id, sizeof o->run_id, "sim-%lx-%d", (long)time(NULL), (int)getpid());
}

/* --- main ----------------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static struct opts o;
	static struct stats st;
	static struct history hist;
	static struct conn conn = { .fd = -1 };
	static char resp[8192];
	parse_args(&o, argc, argv);
	rng_state = mix_seed(o.seed);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!o.dry_run && conn_open(&conn, &o) != 0)
		die("cannot connect to %s:%s", o.host, o.port);
	if (!o.quiet)
		fprintf(stderr, "liandong-sim: run %s, %.2f reports/s to http://%s:%s%s\n", o.run_id,
		    o.rate, o.host, o.port, o.prefix);

	long seq[NLINES] = { 0 };
	double start = mono_s(), at = start, last_progress = start, end = 0;
	for (;;) {
		at += -log(unif()) / o.rate; /* exponential gap: Poisson arrivals */
		if (o.count && st.sent >= o.count)
			break;
		if (o.duration && at - start > o.duration) {
			end = start + o.duration; /* the run is the whole window, idle tail included */
			break;
		}
		if (!o.dry_run)
			sleep_until(at);
		if (stop_requested)
			break;
		double behind = mono_s() - at;
		if (!o.dry_run && behind > 1) {
			st.behind++;
			if (behind > st.max_behind_s)
				st.max_behind_s = behind;
		}

		/* What to send: a new report, or a retry / later version of an earlier one. */
		enum send_kind kind = SK_NEW;
		double u = unif();
		if (hist.n > 0 && u < o.retry_p)
			kind = SK_RETRY;
		else if (hist.n > 0 && u < o.retry_p + o.update_p)
			kind = SK_UPDATE;
		int line, slot = 0;
		json_t *doc;
		if (kind == SK_NEW) {
			line = pick_line(&o);
			long n = ++seq[line];
			doc = line == 0 ? gen110(&o, n) : line == 1 ? gen119(&o, n) :
			    line == 2 ? gen120(&o, n) : gen122(&o, n);
			slot = hist.next;
			hist.next = (hist.next + 1) % HISTORY;
			if (hist.n < HISTORY)
				hist.n++;
			json_decref(hist.doc[slot]);
			hist.doc[slot] = doc;
			hist.line[slot] = line;
		} else {
			slot = (int)(rnd64() % (uint64_t)hist.n);
			doc = hist.doc[slot];
			line = hist.line[slot];
			if (kind == SK_UPDATE)
				make_update(doc, line);
		}
		char *payload = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10));
		st.sent++;
		st.by_line[line]++;
		st.by_kind[kind]++;
		if (o.dry_run) {
			puts(payload);
			free(payload);
			continue;
		}
		double t0 = mono_s();
		int status = post_doc(&conn, &o, line, payload, resp, sizeof resp);
		record_latency(&st, (mono_s() - t0) * 1000);
		if (status < 0 || status >= MAX_STATUS)
			status = 0;
		st.status[kind][status]++;
		if (o.verbose)
			fprintf(stderr, "%s %s %s -> %d %.300s\n", line_code[line], kind_name[kind],
			    json_string_value(json_object_get(doc, "case_no")), status, resp);
		else if ((status < 200 || status >= 300) && st.errors_shown < 5) {
			st.errors_shown++;
			fprintf(stderr, "liandong-sim: %s %s -> %s: %.300s\n", line_code[line],
			    json_string_value(json_object_get(doc, "case_no")),
			    status ? "error" : "no response", status ? resp : strerror(errno));
		}
		free(payload);
		if (!o.quiet && mono_s() - last_progress >= 5) {
			last_progress = mono_s();
			fprintf(stderr, "liandong-sim: %ld sent in %.0f s\n", st.sent, last_progress - start);
		}
	}
	conn_close(&conn);
	if (o.dry_run)
		fprintf(stderr, "liandong-sim: %ld documents (110 %ld, 119 %ld, 120 %ld, 122 %ld; "
				"%ld retries, %ld later versions)\n",
		    st.sent, st.by_line[0], st.by_line[1], st.by_line[2], st.by_line[3],
		    st.by_kind[SK_RETRY], st.by_kind[SK_UPDATE]);
	else
		print_summary(&o, &st, (end > 0 && !stop_requested ? end : mono_s()) - start);

	int failed = 0;
	for (int k = 0; k < SK_N; k++)
		for (int s = 0; s < MAX_STATUS; s++)
			if ((s < 200 || s >= 300) && st.status[k][s])
				failed = 1;
	for (int i = 0; i < HISTORY; i++)
		json_decref(hist.doc[i]);
	for (int i = 0; i < NLINES; i++)
		free(o.token[i]);
	free(st.lat_ms);
	return failed;
}
