// Portico's mark: a pediment over three columns, the portal people walk through.
const mark = (
  <>
    <path d="M2 11 L16 3 L30 11 Z" />
    <rect x="4" y="13" width="4" height="13" rx="1" />
    <rect x="14" y="13" width="4" height="13" rx="1" />
    <rect x="24" y="13" width="4" height="13" rx="1" />
    <rect x="2" y="27" width="28" height="3" rx="1" />
  </>
);

const fill = '#8fd8c6';

export const LogoIcon = () => (
  <svg viewBox="0 0 32 32" height={28} fill={fill} aria-label="Portico">
    {mark}
  </svg>
);

export const LogoFull = () => (
  <svg viewBox="0 0 132 32" height={30} fill={fill} aria-label="Portico">
    {mark}
    <text
      x="40"
      y="24"
      fontFamily="Helvetica, Arial, sans-serif"
      fontSize="22"
      fontWeight="700"
      letterSpacing="0.5"
    >
      Portico
    </text>
  </svg>
);
