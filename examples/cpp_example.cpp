// evthrottle from C++: the header and EVT_OPTIONS_INIT compile cleanly from C++11 on
// (built with -std=c++11 -pedantic-errors by meson, and run as a test).
#include <evthrottle.h>

#include <cstdio>
#include <cstring>

int main()
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 1000000000ull; // 1 s
	o.capacity = 1024;
	evt_throttle *t = nullptr;
	int rc = evt_create(nullptr, &o, &t); // private: this process and its children
	if (rc < 0) {
		std::fprintf(stderr, "evt_create: %s\n", evt_strerror(rc));
		return 1;
	}
	const char *key = "account-42";
	int first = evt_should_process(t, 1000, "e1", key, std::strlen(key));
	int second = evt_should_process(t, 2000, "e2", key, std::strlen(key));
	int later = evt_should_process(t, 1000001000ull, "e3", key, std::strlen(key));
	std::printf("account-42: %d %d %d (window %llu ns)\n", first, second, later,
	            static_cast<unsigned long long>(evt_get_window(t)));
	evt_close(t);
	return first == 1 && second == 0 && later == 1 ? 0 : 1;
}
